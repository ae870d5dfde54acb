import { startAcceptAllServer } from '../smtp/accept-all-server.js'

/** The demo's next hop: accepts every message and counts them (the internet, as far as the relay knows). */
export interface DemoSink {
  port: number
  /** Messages received. */
  readonly received: number
  close(): Promise<void>
}

/** Starts the sink on 127.0.0.1 with STARTTLS on an ephemeral certificate. */
export async function startSink(): Promise<DemoSink> {
  let received = 0
  const { server, address } = await startAcceptAllServer('127.0.0.1', 0, (stream, _session, cb) => {
    stream.on('data', () => undefined)
    stream.on('end', () => {
      received++
      cb(null, `2.0.0 Ok: queued as demo-${received}`)
    })
  })
  return {
    port: address.port,
    get received() {
      return received
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
