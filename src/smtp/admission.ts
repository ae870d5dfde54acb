import type { Socket } from 'node:net'
import type { SMTPServer } from 'smtp-server'
import type { SmtpReply } from '../errors/smtp-reply.js'
import { canonicalAddress } from '../limits/dimensions.js'
import type { ConnectionSlots, SlotRefusal } from '../limits/connection-slots.js'

/** What admission needs from its listener. */
export interface AdmissionEnv {
  readonly slots: ConnectionSlots
  /** A client in relay.networks: it may use the connections reserved for customers. */
  isCustomer(address: string): boolean
  /** Implicit TLS: nothing can be said before the handshake, a refused socket is just closed. */
  readonly implicitTls: boolean
  /** Counts and logs a refusal; returns the reply to send (with the operator's URL). */
  refused(why: SlotRefusal, address: string | null, id: string): SmtpReply
}

/** What smtp-server passes from its PROXY reader to the new connection. */
interface SocketOptions {
  id: string
  remoteAddress?: string
}

/** smtp-server 3.21 runs every accepted socket through _handleProxy before the TLS handshake and the session. */
interface ProxyInternals {
  _expectsProxyHeader(socket: Socket): boolean
  _handleProxy(socket: Socket, callback: (err: Error | null, options?: SocketOptions) => void): void
}

/** Names the places held for connections whose PROXY header is still to come. */
let awaitingHeaders = 0

/**
 * Counts every connection of `server` from accept, before the TLS handshake of an implicit-TLS
 * listener and before the greeting, and refuses those over the listener's shares (see
 * ConnectionSlots) with 421 (a plain listener) or by closing them (implicit TLS). A connection
 * through a load balancer holds a place in the total until its PROXY header names the client.
 * Wraps smtp-server's _handleProxy (or the one acceptProxyProtocol() installed), pinned by
 * test/integration/connection-flood.test.ts.
 */
export function admitConnections(server: SMTPServer, env: AdmissionEnv): void {
  const internals = server as unknown as ProxyInternals
  const inner = internals._handleProxy.bind(server)
  internals._handleProxy = (socket, callback) => {
    let placeholder: string | null = null
    if (internals._expectsProxyHeader(socket)) {
      placeholder = `proxy:${++awaitingHeaders}`
      const held = env.slots.admit(placeholder, null, false)
      if (typeof held === 'string') return refuse(socket, env, held, null, placeholder, callback)
    }
    inner(socket, (err, options) => {
      if (placeholder !== null) env.slots.release(placeholder)
      if (err || !options) return callback(err ?? new Error('no connection options'), options)
      const peer = options.remoteAddress ?? socket.remoteAddress ?? ''
      const address = canonicalAddress(peer) ?? peer
      const held = env.slots.admit(options.id, address, env.isCustomer(address))
      if (typeof held === 'string') return refuse(socket, env, held, address, options.id, callback)
      socket.once('close', () => env.slots.release(options.id))
      callback(null, options)
    })
  }
}

function refuse(
  socket: Socket,
  env: AdmissionEnv,
  why: SlotRefusal,
  address: string | null,
  id: string,
  callback: (err: Error | null) => void,
): void {
  const reply = env.refused(why, address, id)
  socket.on('error', () => undefined)
  if (env.implicitTls || !socket.writable) {
    socket.destroy()
  } else {
    socket.end(`${reply.code} ${reply.message}\r\n`)
    // A client that keeps its side open after the 421 does not keep the descriptor.
    setTimeout(() => socket.destroy(), 1000).unref()
  }
  // smtp-server drops a socket whose _handleProxy failed: no session, no handshake.
  callback(reply)
}
