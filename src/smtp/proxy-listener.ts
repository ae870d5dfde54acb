import type { Socket } from 'node:net'
import type { SMTPServer } from 'smtp-server'
import type { Logger } from 'pino'
import { proxyHeaderMissing } from '../errors/replies.js'
import { RelayError } from '../errors/relay-error.js'
import { canonicalAddress } from '../limits/dimensions.js'
import type { NetworkList } from '../relay/networks.js'
import { newSessionId } from './ids.js'
import { readProxyHeader } from './proxy-protocol.js'

/** How long a load balancer may take to send its header. */
const PROXY_HEADER_TIMEOUT_MS = 10_000

/** What smtp-server passes from its PROXY reader to the new connection. */
interface SocketOptions {
  id: string
  remoteAddress?: string
  remotePort?: number
}

/** The two smtp-server 3.21 internals that decide whether and how a PROXY header is read. */
interface ProxyInternals {
  _expectsProxyHeader(socket: Socket): boolean
  _handleProxy(socket: Socket, callback: (err: Error | null, options?: SocketOptions) => void): void
}

/**
 * Makes an SMTPServer take the client address from a PROXY protocol v1 or v2 header, but
 * only on connections from `allowed` (the listener's proxy_from CIDR blocks). smtp-server
 * 3.21 reads v1 only, from exact addresses; this replaces its reader on this server
 * (pinned by test/integration/proxy-protocol.test.ts). A connection from a load balancer
 * without a valid header gets 421 4.7.0 and is closed; one from any other address is plain
 * SMTP, and a PROXY header it sends is refused as a command (see smtp-server-patches.ts).
 */
export function acceptProxyProtocol(server: SMTPServer, allowed: NetworkList, opts: { implicitTls: boolean; log: Logger }): void {
  const internals = server as unknown as ProxyInternals
  internals._expectsProxyHeader = (socket) => allowed.has(socket.remoteAddress ?? '')
  internals._handleProxy = (socket, callback) => {
    const id = newSessionId()
    const peer = socket.remoteAddress ?? ''
    if (!allowed.has(peer)) {
      setImmediate(() => callback(null, { id }))
      return
    }
    readProxyHeader(socket, PROXY_HEADER_TIMEOUT_MS).then(
      (header) => {
        const address = header.source ? canonicalAddress(header.source.address) : null
        opts.log.debug({ proxy: { version: header.version, from: peer, client: address } }, 'PROXY protocol header')
        callback(null, address && header.source ? { id, remoteAddress: address, remotePort: header.source.port } : { id })
      },
      (err: Error) => {
        const fault = new RelayError('RELAY_ERR_PROXY_HEADER', [peer, err.message], { cause: err })
        opts.log.warn({ code: fault.code, peer }, fault.message)
        socket.on('error', () => undefined)
        // On an implicit-TLS listener the client already speaks TLS: a plain reply would be noise.
        if (!opts.implicitTls && socket.writable) {
          const reply = proxyHeaderMissing()
          socket.end(`${reply.code} ${reply.message}\r\n`)
          setTimeout(() => socket.destroy(), 1000).unref()
        } else {
          socket.destroy()
        }
        callback(fault)
      },
    )
  }
}
