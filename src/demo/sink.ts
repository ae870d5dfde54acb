import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { SMTPServer } from 'smtp-server'
import { ephemeralCertificate } from '../smtp/tls.js'

/** The demo's next hop: accepts every message and counts them (the internet, as far as the relay knows). */
export interface DemoSink {
  port: number
  /** Messages received. */
  readonly received: number
  close(): Promise<void>
}

/** Starts the sink on 127.0.0.1 with STARTTLS on an ephemeral certificate. */
export async function startSink(): Promise<DemoSink> {
  const tls = await ephemeralCertificate('sink.localhost')
  let received = 0
  const server = new SMTPServer({
    name: 'sink.localhost',
    key: tls.key,
    cert: tls.cert,
    authOptional: true,
    disabledCommands: ['AUTH'],
    disableReverseLookup: true,
    logger: false,
    size: 50 * 1024 * 1024,
    onData(stream, _session, cb) {
      stream.on('data', () => undefined)
      stream.on('end', () => {
        received++
        cb(null, `2.0.0 Ok: queued as demo-${received}`)
      })
    },
  })
  server.listen(0, '127.0.0.1')
  await once(server.server, 'listening')
  return {
    port: (server.server.address() as AddressInfo).port,
    get received() {
      return received
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
