import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { SMTPServer } from 'smtp-server'
import type { SMTPServerOptions } from 'smtp-server'
import { installSmtpServerPatches } from '../../src/smtp/smtp-server-patches.js'

/** A patched smtp-server on loopback that answers with whatever the given hooks return. */
export interface ReplyServer {
  port: number
  close(): Promise<void>
}

/**
 * Starts smtp-server with the relay's patches (enhanced status codes) and `hooks`, without
 * AUTH, STARTTLS or reverse lookups: for tests that check reply lines exactly as a client
 * reads them.
 */
export async function startReplyServer(hooks: Pick<SMTPServerOptions, 'onRcptTo' | 'onData'>): Promise<ReplyServer> {
  installSmtpServerPatches()
  const server = new SMTPServer({
    hideENHANCEDSTATUSCODES: false,
    disabledCommands: ['AUTH', 'STARTTLS'],
    disableReverseLookup: true,
    logger: false,
    ...hooks,
  })
  server.listen(0, '127.0.0.1')
  await once(server.server, 'listening')
  return {
    port: (server.server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
