import { once } from 'node:events'
import type { AddressInfo, Socket } from 'node:net'
import type { TLSSocket } from 'node:tls'
import { SMTPServer } from 'smtp-server'
import type { SMTPServerOptions, SMTPServerSession } from 'smtp-server'
import type { Logger } from 'pino'
import type { InstancePolicy } from '../config/instance-policy.js'
import type { ListenerConfig } from '../config/schema.js'
import { localError, shuttingDown } from '../errors/replies.js'
import { RelayError } from '../errors/relay-error.js'
import { SmtpReply } from '../errors/smtp-reply.js'
import type { RelayEvents } from '../events/relay-events.js'
import { clientFaultsFor, connectionsActiveFor, connectionsTimedOutFor, connectionsTotalFor } from '../metrics/relay-metrics.js'
import type { Resolver } from '../dns/resolver.js'
import type { Tarpit } from '../limits/tarpit.js'
import type { SlotLedger, SlotLimits } from '../limits/connection-slots.js'
import type { NextHops } from '../relay/next-hops.js'
import { NetworkList } from '../relay/networks.js'
import { admitConnections } from './admission.js'
import type { Admission } from './admission.js'
import { relayMessage } from './data.js'
import { replyUrl } from './reply-url.js'
import { acceptProxyProtocol } from './proxy-listener.js'
import { clientFault } from './client-faults.js'
import {
  DEADLINES_OPTION,
  ERROR_REPLY_OPTION,
  FORBID_UNAUTH_PIPELINING_OPTION,
  GREET_PAUSE_OPTION,
  PROTOCOL_FAULT_OPTION,
  installSmtpServerPatches,
  saidQuit,
} from './smtp-server-patches.js'
import type { DeadlinePhase, ProtocolFaultHook, SessionDeadlines } from './smtp-server-patches.js'
import { Session } from './session.js'
import type { TlsMaterial } from './tls.js'

/** What a listener needs from its instance. */
export interface ListenerEnv {
  readonly policy: () => InstancePolicy
  readonly nextHops: () => NextHops
  readonly resolver: () => Resolver
  readonly log: Logger
  /** Delays refusals to offending clients; one per instance. */
  readonly tarpit: Tarpit
  /** Where sessions emit their outcomes and transactions. */
  readonly events: RelayEvents
  /** Where the listener's connections are counted, when not in this process (`serve --workers N`). */
  readonly slots?: (listener: string, limits: () => SlotLimits) => SlotLedger
}

/** Open sockets below which the socket set is not swept for closed ones. */
const SWEEP_MIN = 256

interface Connection {
  session: { id: string }
  send(code: number, text: string): void
}

/**
 * One listening socket of an instance, on smtp-server. Maps smtp-server's hooks to Session
 * methods and SmtpReply errors to replies (with the operator's URL). Every session takes the
 * instance's policy snapshot at connect and keeps it until it ends.
 */
export class Listener {
  /** The listener's settings; a reload may change those that do not need a new socket. */
  config: ListenerConfig
  readonly #env: ListenerEnv
  readonly #server: SMTPServer
  readonly #sessions = new Map<string, Session>()
  readonly #sockets = new Set<Socket>()
  readonly #admission: Admission
  readonly #reported = new WeakSet<Error>()
  #sweepAt = SWEEP_MIN
  #draining = false

  constructor(config: ListenerConfig, tls: TlsMaterial | null, env: ListenerEnv) {
    installSmtpServerPatches()
    this.config = config
    this.#env = env
    this.#server = new SMTPServer({ ...this.#options(env.policy()), ...(tls ? { key: tls.key, cert: tls.cert } : {}) })
    this.#server.on('error', (err) => this.#onError(err))
    // Every accepted socket, including ones still in a TLS handshake or PROXY header that
    // smtp-server does not count as connections yet: a drain must be able to end them all.
    this.#server.server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket)
      socket.once('close', () => this.#sockets.delete(socket))
      // STARTTLS removes every listener from the plain socket (smtp-server's upgrade()), this
      // 'close' one included: such sockets are dropped here once closed, or they would be kept
      // for ever with their session. Amortized: a sweep each time the set has doubled.
      if (this.#sockets.size >= this.#sweepAt) {
        for (const s of this.#sockets) if (s.destroyed) this.#sockets.delete(s)
        this.#sweepAt = Math.max(SWEEP_MIN, this.#sockets.size * 2)
      }
    })
    if (config.proxy_from.length) {
      acceptProxyProtocol(this.#server, new NetworkList(config.proxy_from), { implicitTls: config.tls === 'implicit', log: env.log })
    }
    const slots = env.slots
    this.#admission = admitConnections(this.#server, {
      policy: env.policy,
      listener: () => this.config,
      log: env.log,
      ...(slots ? { slots: (limits: () => SlotLimits) => slots(config.name, limits) } : {}),
    })
  }

  /** Starts listening; resolves with the bound address. */
  async listen(): Promise<AddressInfo> {
    const server = this.#server.server
    this.#server.listen(this.config.port, this.config.address)
    try {
      await once(server, 'listening')
    } catch (err) {
      const where = `${this.config.address}:${this.config.port}`
      throw new RelayError('RELAY_ERR_LISTEN', [where, (err as Error).message], { cause: err })
    }
    return server.address() as AddressInfo
  }

  get address(): AddressInfo | null {
    return this.#server.server.address() as AddressInfo | null
  }

  /**
   * Applies a reloaded policy and listener settings (same socket: address, port, TLS mode,
   * AUTH, PROXY) to the options smtp-server reads per connection.
   */
  update(config: ListenerConfig, policy: InstancePolicy, tls: TlsMaterial | null): void {
    this.config = config
    const { size, banner, name, socketTimeout, closeTimeout } = this.#options(policy)
    Object.assign(this.#server.options, {
      size,
      banner,
      name,
      socketTimeout,
      closeTimeout,
      ...this.#reloadableOptions(policy),
    })
    if (tls) this.#server.updateSecureContext({ key: tls.key, cert: tls.cert })
  }

  /**
   * Stops accepting, says 421 to idle sessions at once and to busy ones when their
   * transaction ends; after `deadlineMs` every session left is closed with 421.
   */
  async drain(deadlineMs: number): Promise<void> {
    this.#draining = true
    const closed = new Promise<void>((resolve) => this.#server.server.close(() => resolve()))
    for (const conn of this.#connections()) {
      const session = this.#sessions.get(conn.session.id)
      if (!session?.tx) conn.send(421, shuttingDown().message)
    }
    const deadline = setTimeout(() => {
      for (const conn of this.#connections()) conn.send(421, shuttingDown().message)
      // A socket that did not close after its 421 (or never became a session) is cut.
      setTimeout(() => {
        for (const socket of this.#sockets) socket.destroy()
      }, 1000).unref()
    }, deadlineMs)
    await closed
    clearTimeout(deadline)
  }

  #connections(): Connection[] {
    return [...(this.#server as unknown as { connections: Set<Connection> }).connections]
  }

  #options(policy: InstancePolicy): SMTPServerOptions {
    const c = this.config
    const limits = policy.config.limits
    const disabled = [...(c.tls === 'none' ? ['STARTTLS'] : []), ...(c.auth ? [] : ['AUTH'])]
    return {
      name: policy.hostname,
      banner: policy.config.smtp.banner,
      secure: c.tls === 'implicit',
      disabledCommands: disabled,
      authMethods: ['PLAIN', 'LOGIN'],
      authOptional: true,
      allowInsecureAuth: false,
      hideENHANCEDSTATUSCODES: false,
      hideDSN: true,
      size: limits.message_size,
      rejectOversized: false,
      // PROXY protocol v1/v2 from proxy_from CIDR blocks: acceptProxyProtocol() replaces the library's v1-only reader.
      useProxy: false,
      socketTimeout: limits.idle_timeout,
      closeTimeout: limits.drain_timeout,
      resolver: {
        reverse: (ip: string, cb: (err: Error | null, names?: string[]) => void) => {
          this.#env.resolver().reverse(ip).then((names) => cb(null, names), (err: Error) => cb(err))
        },
      },
      logger: false,
      ...this.#reloadableOptions(policy),
      ...{ [ERROR_REPLY_OPTION]: this.#onErrorReply, [PROTOCOL_FAULT_OPTION]: this.#onProtocolFault },
      onConnect: (smtp, cb) => this.#hook(smtp, cb, () => this.#onConnect(smtp), 'connect'),
      onSecure: (socket, smtp, cb) => {
        const tlsSocket = socket as TLSSocket
        this.#hook(smtp, cb, () =>
          this.#session(smtp).secured(tlsSocket.getProtocol() ?? 'TLS', tlsSocket.getCipher().name, tlsSocket.isSessionReused()),
          'tls',
        )
      },
      onAuth: (auth, smtp, cb) =>
        this.#hook(
          smtp,
          (err) => (err ? cb(err) : cb(null, { user: auth.username })),
          async () => {
            await this.#session(smtp).authenticate(auth)
            // An authenticated client is a customer: it leaves the outsiders' share.
            this.#admission.authenticated(smtp.id)
          },
          'auth',
          auth.username ?? '',
        ),
      onMailFrom: (address, smtp, cb) => this.#hook(smtp, cb, () => this.#session(smtp).mailFrom(address, smtp)),
      onRcptTo: (address, smtp, cb) => this.#hook(smtp, cb, () => this.#session(smtp).rcptTo(address)),
      onData: (stream, smtp, cb) => {
        this.#hook(
          smtp,
          (err, reply) => {
            if (err) cb(err)
            else cb(null, reply?.message)
            // A draining client's transaction is over, delivered or not: it need not wait for the deadline.
            if (this.#draining) setImmediate(() => this.#sayGoodbye(smtp.id))
          },
          async () => {
            const session = this.#session(smtp)
            try {
              return await relayMessage(session, stream)
            } catch (err) {
              // A fault (not a refusal) leaves the transaction open: it ends as deferred.
              if (!(err instanceof SmtpReply)) session.endTransaction('tempfailed', localError())
              throw err
            }
          },
        )
      },
      onClose: (smtp) => {
        this.#admission.closed(smtp.id)
        const session = this.#sessions.get(smtp.id)
        if (!session) return
        session.close(saidQuit(smtp), smtp.error)
        this.#sessions.delete(smtp.id)
        connectionsActiveFor(session.record.instance, this.config.name).dec()
      },
    }
  }

  async #onConnect(smtp: SMTPServerSession): Promise<void> {
    const policy = this.#env.policy()
    const session = new Session(
      { policy, listener: this.config, nextHops: this.#env.nextHops, draining: () => this.#draining, log: this.#env.log, events: this.#env.events },
      smtp,
    )
    this.#sessions.set(smtp.id, session)
    connectionsTotalFor(policy.name, this.config.name).inc()
    connectionsActiveFor(policy.name, this.config.name).inc()
    if (this.#draining) throw shuttingDown()
    await session.connect()
  }

  /** Our options of the patched smtp-server that follow the policy, set at start and again on reload. */
  #reloadableOptions(policy: InstancePolicy): Record<string, unknown> {
    return {
      [GREET_PAUSE_OPTION]: this.config.greet_pause,
      [FORBID_UNAUTH_PIPELINING_OPTION]: this.#forbidUnauthPipelining(policy),
      [DEADLINES_OPTION]: this.#deadlines(policy),
    }
  }

  /** Customers' listeners (the outbound instance) refuse unauthorized pipelining unless the policy says otherwise. */
  #forbidUnauthPipelining(policy: InstancePolicy): boolean {
    return this.config.forbid_unauth_pipelining ?? policy.config.smtp.forbid_unauth_pipelining ?? policy.name === 'outbound'
  }

  #deadlines(policy: InstancePolicy): SessionDeadlines {
    const limits = policy.config.limits
    return {
      greetingMs: limits.greeting_timeout,
      handshakeMs: limits.tls_handshake_timeout,
      commandMs: limits.idle_timeout,
      dataMs: limits.data_timeout,
      dataMinRate: limits.data_min_rate,
      onTimeout: (id: string, address: string, phase: DeadlinePhase) => {
        connectionsTimedOutFor(policy.name, this.config.name, phase).inc()
        const log = this.#sessions.get(id)?.log ?? this.#env.log
        log.info({ listener: this.config.name, ip: address, phase }, 'connection timed out')
      },
      withUrl: (reply: SmtpReply, id: string) => reply.withUrl(replyUrl(policy.replyUrl, reply, id)),
    }
  }

  /** A session's error reply counts towards smtp.hard_error_limit; the one that reaches it is followed by 421. */
  readonly #onErrorReply = (id: string, code: number, text: string): SmtpReply | null => {
    const session = this.#sessions.get(id)
    const closing = session?.errors.replied(code, text)
    if (!session || !closing) return null
    clientFaultsFor(session.record.instance, this.config.name, 'hard_error_limit').inc()
    session.log.info({ errors: session.errors.errors }, 'too many errors: closing the session')
    return closing.withUrl(replyUrl(session.policy.replyUrl, closing, id))
  }

  /** An early talker or unauthorized pipelining closed a session: counted and logged at info. */
  readonly #onProtocolFault: ProtocolFaultHook = (id, address, fault) => {
    clientFaultsFor(this.#env.policy().name, this.config.name, fault).inc()
    const log = this.#sessions.get(id)?.log ?? this.#env.log
    log.info({ listener: this.config.name, ip: address, fault }, 'protocol violation: connection closed')
  }

  /** A client's broken socket or TLS is one line at info (TLS) or debug (hang-up); anything else is ours. */
  #onError(err: Error): void {
    // smtp-server reports a failed STARTTLS handshake twice (its 'error' and '_tlsError'), with one error object.
    if (this.#reported.has(err)) return
    this.#reported.add(err)
    const fault = clientFault(err)
    if (!fault) {
      // A client that leaves or is cut during the implicit-TLS handshake, before any session: no fault of ours.
      if ((err as Error & { meta?: { stage?: string } }).meta?.stage === 'connect') this.#env.log.info({ err: err.message, listener: this.config.name }, 'TLS handshake not completed')
      else this.#env.log.error({ err, listener: this.config.name }, 'listener error')
      return
    }
    clientFaultsFor(this.#env.policy().name, this.config.name, fault.kind).inc()
    const fields = { listener: this.config.name, ip: fault.address, reason: fault.reason }
    if (fault.kind === 'tls') this.#env.log.info(fields, 'client TLS failed')
    else this.#env.log.debug(fields, 'client connection lost')
  }

  /**
   * Runs a hook's work and answers smtp-server's callback with its result or its refusal. A
   * refusal at a session stage (connect, TLS, AUTH, with the `user` tried) is a session event.
   */
  #hook<T>(
    smtp: SMTPServerSession,
    cb: (err: SmtpReply | null, value?: T) => void,
    work: () => Promise<T>,
    stage?: 'connect' | 'tls' | 'auth',
    user: string | null = null,
  ): void {
    Promise.resolve()
      .then(work)
      .then(
        (value) => cb(null, value),
        async (err: unknown) => {
          const reply = this.#reply(err, smtp)
          if (stage) this.#sessions.get(smtp.id)?.refused(stage, err, user)
          await this.#tarpit(smtp.id)
          cb(reply)
        },
      )
      .catch((err: unknown) => this.#env.log.error({ err }, 'SMTP hook callback failed'))
  }

  #session(smtp: SMTPServerSession): Session {
    const session = this.#sessions.get(smtp.id)
    if (!session) throw new RelayError('RELAY_ERR_SESSION', [smtp.id, 'no session state'])
    return session
  }

  /** A refusal to a client that hit a limit or is in the penalty box waits tarpit.delay first (bounded). */
  async #tarpit(id: string): Promise<void> {
    const session = this.#sessions.get(id)
    if (!session?.offending) return
    const { delay, max_sockets } = session.policy.config.tarpit
    await this.#env.tarpit.hold(Math.min(delay, session.policy.config.limits.command_timeout), max_sockets)
  }

  #sayGoodbye(id: string): void {
    const conn = this.#connections().find((c) => c.session.id === id)
    if (conn && !this.#sessions.get(id)?.tx) conn.send(421, shuttingDown().message)
  }

  /** Our refusals get the operator's URL; anything else is our fault and becomes 451 4.3.0. */
  #reply(err: unknown, smtp: SMTPServerSession): SmtpReply {
    const session = this.#sessions.get(smtp.id)
    if (err instanceof SmtpReply) {
      if (err.reason === 'next-hop') return err
      return err.withUrl(replyUrl(session?.policy.replyUrl ?? null, err, smtp.id))
    }
    const log = session?.log ?? this.#env.log
    const fault = clientFault(err)
    // The client hung up in the middle of a command (DATA, usually), or a deadline cut it: nobody is left to answer.
    if (fault) {
      clientFaultsFor(this.#env.policy().name, this.config.name, fault.kind).inc()
      log.debug({ reason: fault.reason }, 'client connection lost during a command')
    } else log.error({ err }, 'internal error, answering 451 4.3.0')
    return localError().withUrl(replyUrl(session?.policy.replyUrl ?? null, localError(), smtp.id))
  }
}
