import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { headerBlock, parseHeader } from '../scan/header-fields.js'
import { printable } from '../scan/tree.js'
import { startAcceptAllServer } from '../smtp/accept-all-server.js'
import type { Command } from './args.js'
import { UsageError, parse } from './args.js'

/** `smarthost-guard sink`: a next hop that accepts everything, for trying the relay out. */
export const sink: Command = {
  name: 'sink',
  summary: 'run an SMTP sink that accepts and prints every message (a next hop for demos)',
  usage: `Usage: smarthost-guard sink [--address ADDR] [--port PORT] [--maildir DIR] [--quiet | --body]

Accepts every message (with STARTTLS on an ephemeral certificate) and prints, for each, a
summary line and the message's header block, where the relay's Received: field is on top.
The default policy relays to 127.0.0.1:2500, where this listens by default.

Options:
  -a, --address ADDR    address to listen on (default 127.0.0.1)
  -p, --port PORT       port (default 2500)
  -m, --maildir DIR     also write each message to DIR/<time>-<n>.eml
  -q, --quiet           print the summary line only
  -b, --body            print the whole message, not only its header block
`,
  async run(argv) {
    const { values } = parse(argv, {
      address: { type: 'string', short: 'a', default: '127.0.0.1' },
      port: { type: 'string', short: 'p', default: '2500' },
      maildir: { type: 'string', short: 'm' },
      quiet: { type: 'boolean', short: 'q', default: false },
      body: { type: 'boolean', short: 'b', default: false },
    })
    if (values.quiet && values.body) throw new UsageError('give --quiet or --body, not both')
    const show = values.quiet ? 'summary' : values.body ? 'message' : 'header'
    const port = Number(values.port)
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`bad port ${values.port}`)
    const dir = values.maildir
    if (dir) await mkdir(dir, { recursive: true })
    let n = 0
    const { address: a } = await startAcceptAllServer(values.address, port, (stream, session, cb) => {
      const chunks: Buffer[] = []
      stream.on('data', (c: Buffer) => chunks.push(c))
      stream.on('end', () => {
        const raw = Buffer.concat(chunks)
        const id = `${Date.now()}-${++n}`
        const subject = parseHeader(raw).decoded('subject') ?? ''
        const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : ''
        const to = session.envelope.rcptTo.map((r) => `<${r.address}>`).join(',')
        const summary = `sink ${id}: from=<${from}> to=${to} size=${raw.length} subject=${JSON.stringify(subject)}\n`
        process.stdout.write(show === 'summary' ? summary : `${summary}${shown(show === 'header' ? headerBlock(raw) : raw)}\n`)
        const done = () => cb(null, `2.0.0 Ok: queued as ${id}`)
        if (dir) writeFile(join(dir, `${id}.eml`), raw).then(done, (err: Error) => cb(err))
        else done()
      })
    })
    process.stdout.write(`sink listening on ${a.address}:${a.port}\n`)
    return -1
  },
}

/**
 * A message (or its header block) for the terminal, followed by an empty line: LF line ends,
 * and control characters, which could drive the terminal, shown as "?" (a bare CR too).
 */
function shown(raw: Buffer): string {
  const text = raw.toString('utf8').replace(/\r\n/g, '\n').replace(/\r/g, '?').replace(/\n$/, '')
  return `${printable(text, { keepNewlines: true })}\n`
}
