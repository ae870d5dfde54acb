import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { SMTPServer } from 'smtp-server'
import type { SMTPServerOptions } from 'smtp-server'
import { ephemeralCertificate } from './tls.js'

/**
 * A next hop that accepts every message, for trying the relay out (`sink`) and for the demo:
 * STARTTLS on an ephemeral certificate, no AUTH, no PTR lookups through the system resolver.
 * `onData` decides what becomes of each message and answers it.
 */
export async function startAcceptAllServer(
  address: string,
  port: number,
  onData: NonNullable<SMTPServerOptions['onData']>,
): Promise<{ server: SMTPServer; address: AddressInfo }> {
  const tls = await ephemeralCertificate('sink.localhost')
  const server = new SMTPServer({
    name: 'sink.localhost',
    key: tls.key,
    cert: tls.cert,
    authOptional: true,
    disabledCommands: ['AUTH'],
    disableReverseLookup: true,
    logger: false,
    onData,
  })
  server.listen(port, address)
  await once(server.server, 'listening')
  return { server, address: server.server.address() as AddressInfo }
}
