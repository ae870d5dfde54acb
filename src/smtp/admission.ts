import type { Socket } from 'node:net'
import type { SMTPServer } from 'smtp-server'
import type { Logger } from 'pino'
import type { InstancePolicy } from '../config/instance-policy.js'
import type { ListenerConfig } from '../config/schema.js'
import { reservedConnections } from '../config/schema.js'
import { clientConnectionLimit, listenerBusy } from '../errors/replies.js'
import type { SmtpReply } from '../errors/smtp-reply.js'
import { canonicalAddress } from '../limits/dimensions.js'
import { ConnectionSlots } from '../limits/connection-slots.js'
import type { Slot, SlotLedger, SlotLimits, SlotRefusal } from '../limits/connection-slots.js'
import { connectionsRefusedFor } from '../metrics/relay-metrics.js'
import { replyUrl } from './reply-url.js'

/** What admission needs from its listener; read at each connection, so a reload applies at once. */
export interface AdmissionEnv {
  readonly policy: () => InstancePolicy
  readonly listener: () => ListenerConfig
  readonly log: Logger
  /** Where the connections are counted when not in this process (the primary of `serve --workers N`). */
  readonly slots?: (limits: () => SlotLimits) => SlotLedger
}

/** A listener's admission: tells it when a connection authenticated. */
export interface Admission {
  /** The connection authenticated: it moves to the customers' share. */
  authenticated(id: string): void
  /** The connection closed (told by the session's end as well as the socket: see admitConnections). */
  closed(id: string): void
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
export function admitConnections(server: SMTPServer, env: AdmissionEnv): Admission {
  const limits = () => sharesOf(env.policy(), env.listener())
  const slots = env.slots?.(limits) ?? new ConnectionSlots(limits)
  const internals = server as unknown as ProxyInternals
  const inner = internals._handleProxy.bind(server)
  internals._handleProxy = (socket, callback) => {
    let placeholder: string | null = null
    if (internals._expectsProxyHeader(socket)) {
      placeholder = `proxy:${++awaitingHeaders}`
      const id = placeholder
      return settle(slots.admit(id, null, false), (held) => {
        if (typeof held === 'string') return refuse(socket, env, held, null, id, callback)
        if (socket.destroyed) return slots.release(id)
        proceed()
      })
    }
    proceed()

    function proceed(): void {
      inner(socket, (err, options) => {
        if (placeholder !== null) slots.release(placeholder)
        if (err || !options) return callback(err ?? new Error('no connection options'), options)
        const peer = options.remoteAddress ?? socket.remoteAddress ?? ''
        const address = canonicalAddress(peer) ?? peer
        settle(slots.admit(options.id, address, env.policy().networks.has(address)), (held) => {
          if (typeof held === 'string') return refuse(socket, env, held, address, options.id, callback)
          // Gone while the primary counted it: no session will close it.
          if (socket.destroyed) return slots.release(options.id)
          // STARTTLS removes every listener of the plain socket (smtp-server's upgrade()), this one
          // included: the listener also releases the place when the session closes (Admission.closed).
          socket.once('close', () => slots.release(options.id))
          callback(null, options)
        })
      })
    }
  }
  return { authenticated: (id) => slots.authenticated(id), closed: (id) => slots.release(id) }
}

/** Goes on with an admission's answer: at once from this process's slots, after the primary's answer from its. */
function settle(answer: SlotRefusal | Slot | Promise<SlotRefusal | Slot>, next: (held: SlotRefusal | Slot) => void): void {
  // A primary that cannot answer: the client is told to come back (4xx), as when the listener is full.
  if (answer instanceof Promise) answer.then(next, () => next('listener_full'))
  else next(answer)
}

/** A listener's shares under a policy. */
function sharesOf(policy: InstancePolicy, listener: ListenerConfig): SlotLimits {
  const limits = policy.config.limits
  const total = listener.max_connections ?? limits.connections_per_listener
  // No relay network and no AUTH (an MX): nobody could use a reserve, so none is kept.
  const customers = listener.auth || policy.networks.size > 0
  const reserved = customers ? reservedConnections(limits.reserved_for_customers, total) : 0
  return { total, reserved, perAddress: limits.outsider_connections_per_address }
}

/** Counts, logs and answers a refusal: 421 on a plain listener; on an implicit-TLS one, just closes. */
function refuse(
  socket: Socket,
  env: AdmissionEnv,
  why: SlotRefusal,
  address: string | null,
  id: string,
  callback: (err: Error | null) => void,
): void {
  const policy = env.policy()
  const listener = env.listener()
  connectionsRefusedFor(policy.name, listener.name, why).inc()
  const perAddress = policy.config.limits.outsider_connections_per_address
  const base = why === 'address_full' && perAddress !== null ? clientConnectionLimit(perAddress) : listenerBusy()
  const reply: SmtpReply = base.withUrl(replyUrl(policy.replyUrl, base, id))
  env.log.info({ sid: id, ip: address, listener: listener.name, refused: why, reply: reply.toString() }, 'connection refused')
  socket.on('error', () => undefined)
  if (listener.tls === 'implicit' || !socket.writable) {
    socket.destroy()
  } else {
    socket.end(`${reply.code} ${reply.message}\r\n`)
    // A client that keeps its side open after the 421 does not keep the descriptor.
    setTimeout(() => socket.destroy(), 1000).unref()
  }
  // smtp-server drops a socket whose _handleProxy failed: no session, no handshake.
  callback(reply)
}
