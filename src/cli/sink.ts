import { once } from 'node:events'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { SMTPServer } from 'smtp-server'
import { parseHeader } from '../scan/header-fields.js'
import { ephemeralCertificate } from '../smtp/tls.js'
import type { Command } from './args.js'
import { UsageError, parse } from './args.js'

/** `smarthost-guard sink`: a next hop that accepts everything, for trying the relay out. */
export const sink: Command = {
  name: 'sink',
  summary: 'run an SMTP sink that accepts and prints every message (a next hop for demos)',
  usage: `Usage: smarthost-guard sink [--address ADDR] [--port PORT] [--maildir DIR]

Accepts every message (with STARTTLS on an ephemeral certificate) and prints one line per
message. The default policy relays to 127.0.0.1:2500, where this listens by default.

Options:
  -a, --address ADDR    address to listen on (default 127.0.0.1)
  -p, --port PORT       port (default 2500)
  -m, --maildir DIR     also write each message to DIR/<time>-<n>.eml
`,
  async run(argv) {
    const { values } = parse(argv, {
      address: { type: 'string', short: 'a', default: '127.0.0.1' },
      port: { type: 'string', short: 'p', default: '2500' },
      maildir: { type: 'string', short: 'm' },
    })
    const port = Number(values.port)
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`bad port ${values.port}`)
    const dir = values.maildir
    if (dir) await mkdir(dir, { recursive: true })
    const tls = await ephemeralCertificate('sink.localhost')
    let n = 0
    const server = new SMTPServer({
      name: 'sink.localhost',
      key: tls.key,
      cert: tls.cert,
      authOptional: true,
      disabledCommands: ['AUTH'],
      // A demo next hop: no PTR lookups through the system resolver.
      disableReverseLookup: true,
      logger: false,
      onData(stream, session, cb) {
        const chunks: Buffer[] = []
        stream.on('data', (c: Buffer) => chunks.push(c))
        stream.on('end', () => {
          const raw = Buffer.concat(chunks)
          const id = `${Date.now()}-${++n}`
          const subject = parseHeader(raw).decoded('subject') ?? ''
          const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : ''
          const to = session.envelope.rcptTo.map((r) => `<${r.address}>`).join(',')
          process.stdout.write(`sink ${id}: from=<${from}> to=${to} size=${raw.length} subject=${JSON.stringify(subject)}\n`)
          const done = () => cb(null, `2.0.0 Ok: queued as ${id}`)
          if (dir) writeFile(join(dir, `${id}.eml`), raw).then(done, (err: Error) => cb(err))
          else done()
        })
      },
    })
    server.listen(port, values.address)
    await once(server.server, 'listening')
    const a = server.server.address() as AddressInfo
    process.stdout.write(`sink listening on ${a.address}:${a.port}\n`)
    return -1
  },
}
