import type { SMTPServerAddress, SMTPServerAuthentication, SMTPServerSession } from 'smtp-server'
import type { Logger } from 'pino'
import type { ClassChoice } from '../classes/classifier.js'
import type { InstancePolicy } from '../config/instance-policy.js'
import type { ListenerConfig } from '../config/schema.js'
import { authUnavailable, localError, shuttingDown } from '../errors/replies.js'
import { SmtpReply } from '../errors/smtp-reply.js'
import { logTransaction } from '../log/transaction-log.js'
import { clientFaultsFor, refusalsFor } from '../metrics/relay-metrics.js'
import { decideScore } from '../pipeline/decide.js'
import type { RecipientRecord, SessionRecord, TransactionOutcome, TransactionRecord } from '../pipeline/record.js'
import { newTransactionRecord } from '../pipeline/record.js'
import { runStage } from '../pipeline/runner.js'
import type { ScoreSink, StageDecision } from '../pipeline/runner.js'
import type { AuthAttempt, Stage } from '../pipeline/types.js'
import { SESSION_STAGES } from '../pipeline/types.js'
import { splitAddress } from '../relay/address.js'
import type { MessageData } from '../relay/message.js'
import type { NextHops } from '../relay/next-hops.js'
import { unmapIPv4 } from '../relay/networks.js'
import { ClientErrors } from './client-errors.js'
import { newId } from './ids.js'

/** What a session needs from its listener and instance. */
export interface SessionEnv {
  /** The policy snapshot this session keeps until it ends. */
  readonly policy: InstancePolicy
  readonly listener: ListenerConfig
  readonly nextHops: () => NextHops
  readonly draining: () => boolean
  readonly log: Logger
}

/**
 * One SMTP connection: maps smtp-server's hooks onto the stage pipeline and keeps the session
 * and transaction records. smtp-server runs one command at a time per connection, so the
 * methods never overlap. Refusals are thrown as SmtpReply.
 */
export class Session {
  readonly record: SessionRecord
  readonly env: SessionEnv
  readonly log: Logger
  /** Refusals, failed AUTH and refusal log lines of this session, against the smtp.* limits. */
  readonly errors: ClientErrors
  tx: TransactionRecord | null = null
  /** The client greeted with EHLO (for the Received protocol keyword). */
  esmtp = true
  /** The client hit a limit or is in the penalty box: its refusals may be tarpitted. */
  offending = false
  /**
   * The HELO name whose checks ran, and their permanent refusal if any: it is given again at
   * every MAIL under that name (a temporary one lets the checks run again).
   */
  #helo: { name: string; refusal: SmtpReply | null } | null = null
  /** The session's class before any per-transaction (sender domain) override. */
  #sessionClass: ClassChoice = { clientClass: 'unknown', by: 'default', source: 'default' }
  readonly #closers: (() => Promise<void>)[] = []
  #closed = false

  constructor(env: SessionEnv, smtp: SMTPServerSession) {
    this.env = env
    const address = unmapIPv4(smtp.remoteAddress)
    this.record = {
      id: smtp.id,
      instance: env.policy.name,
      listener: env.listener.name,
      client: { address, port: smtp.remotePort, ptr: smtp.clientHostname && smtp.clientHostname !== `[${address}]` ? smtp.clientHostname : null },
      server: { address: unmapIPv4(smtp.localAddress), port: smtp.localPort },
      helo: null,
      tls: null,
      user: null,
      relayClient: env.policy.networks.has(address),
      clientClass: 'unknown',
      classBy: 'default',
      score: 0,
      flags: [],
      checks: [],
      headers: [],
      startedAt: Date.now(),
      transactions: 0,
    }
    this.log = env.log.child({ sid: smtp.id, ip: address })
    this.errors = new ClientErrors(env.policy.config.smtp)
  }

  get policy(): InstancePolicy {
    return this.env.policy
  }

  async connect(): Promise<void> {
    // After the PROXY header (if any): the address is the real client's.
    this.#setSessionClass(this.policy.classifier.atConnect(this.record.client.address))
    await this.#decide('connect', {})
  }

  /** A TLS session is up (STARTTLS or implicit TLS): record it and run the tls stage. */
  async secured(protocol: string, cipher: string, resumed: boolean): Promise<void> {
    this.record.tls = { protocol, cipher, ...(resumed ? { resumed } : {}) }
    await this.#decide('tls', {})
  }

  async authenticate(auth: SMTPServerAuthentication): Promise<void> {
    const creds = this.policy.credentials
    const username = auth.username ?? ''
    if (!creds) throw authUnavailable()
    const ok = await creds.verify(username, auth.password ?? '')
    await this.#decide('auth', { auth: { username, method: auth.method, success: ok } })
    if (!ok) {
      const reply = this.errors.authFailed()
      if (reply.code === 421) clientFaultsFor(this.record.instance, this.record.listener, 'auth_session_limit').inc()
      if (this.errors.logRefusal()) this.log.info({ user: username, method: auth.method, reply: reply.code }, 'authentication failed')
      throw reply
    }
    this.record.user = username
    this.#setSessionClass(this.policy.classifier.afterAuth(username))
  }

  async mailFrom(address: SMTPServerAddress, smtp: SMTPServerSession): Promise<void> {
    this.endTransaction(this.#unfinishedOutcome())
    if (this.env.draining()) throw shuttingDown()
    const tx = newTransaction(this.record.id, address)
    this.tx = tx
    this.record.transactions++
    this.esmtp = smtp.openingCommand !== 'HELO'
    this.#applyClass(this.policy.classifier.forSender(this.#sessionClass, splitAddress(address.address).domain))
    const helo = smtp.hostNameAppearsAs || ''
    try {
      await this.#heloStage(helo, tx)
      await this.#decide('mail', { tx })
    } catch (err) {
      this.endTransaction(err instanceof SmtpReply && err.isTemporary ? 'tempfailed' : 'rejected', err)
      throw err
    }
  }

  async rcptTo(address: SMTPServerAddress): Promise<void> {
    const tx = this.tx
    if (!tx) throw localError()
    const already = tx.rcpts.find((r) => r.accepted && r.address.toLowerCase() === address.address.toLowerCase())
    if (already) return
    const domain = splitAddress(address.address).domain
    const rcpt: RecipientRecord = {
      address: address.address,
      domain,
      local: this.policy.localDomains.isLocal(domain),
      accepted: false,
    }
    tx.rcpts.push(rcpt)
    try {
      await this.#decide('rcpt', { tx, rcpt })
    } catch (err) {
      rcpt.reply = String(err instanceof SmtpReply ? err : localError())
      if (err instanceof SmtpReply && err.isTemporary) tx.tempfailed = true
      throw err
    }
    rcpt.accepted = true
  }

  /** Runs the data stage on a received message; a refusal throws. */
  async dataChecks(message: MessageData): Promise<StageDecision> {
    const tx = this.tx
    if (!tx) throw localError()
    return this.#run('data', { tx, message })
  }

  /**
   * Ends the transaction at the end of DATA with a refusal (rejected or tempfailed by its class,
   * unless `outcome` says otherwise), counts it, and returns it for the caller to throw.
   */
  refuseTransaction(reply: SmtpReply, outcome?: TransactionOutcome): SmtpReply {
    refusalsFor(this.record.instance, 'data', String(reply.code)).inc()
    this.endTransaction(outcome ?? (reply.isTemporary ? 'tempfailed' : 'rejected'), reply)
    return reply
  }

  /** Ends the current transaction and logs it. */
  endTransaction(outcome: TransactionOutcome, reply?: unknown): void {
    const tx = this.tx
    if (!tx) return
    this.tx = null
    tx.outcome = outcome
    if (reply !== undefined) tx.reply = String(reply instanceof SmtpReply ? reply : localError())
    tx.timings.end = Date.now()
    if (outcome === 'delivered') this.errors.delivered()
    const refused = outcome === 'rejected' || outcome === 'tempfailed'
    logTransaction(this.log, this.record, tx, !refused || this.errors.logRefusal())
  }

  close(): void {
    // A message handed to the next hop is ended by the relay when the hop answers, even
    // after the client has gone: it may well be delivered.
    if (!this.tx?.timings.data) this.endTransaction(this.#unfinishedOutcome())
    this.#closed = true
    if (this.errors.unlogged) {
      this.log.info({ unlogged: this.errors.unlogged }, `${this.errors.unlogged} further refusals in this session were not logged`)
    }
    for (const release of this.#closers.splice(0)) this.#release(release)
  }

  /** A check's evidence suggests another class; the classifier lets operator lists and overrides win. */
  readonly #reclassify = (clientClass: string, by: string): void => {
    const choice = this.policy.classifier.signal(this.#sessionClass, clientClass, by)
    if (!choice) {
      this.log.debug({ suggested: clientClass, by, class: this.record.clientClass, classBy: this.record.classBy }, 'class suggestion ignored')
      return
    }
    this.#setSessionClass(choice)
  }

  /** A check counted this connection; a connection that closed while it counted is released at once. */
  readonly #onClose = (release: () => Promise<void>): void => {
    if (this.#closed) this.#release(release)
    else this.#closers.push(release)
  }

  #release(release: () => Promise<void>): void {
    release().catch((err: unknown) => this.log.warn({ err }, 'releasing a connection limit failed'))
  }

  #setSessionClass(choice: ClassChoice): void {
    this.#sessionClass = choice
    this.#applyClass(choice)
  }

  #applyClass(choice: ClassChoice): void {
    this.record.clientClass = choice.clientClass
    this.record.classBy = choice.by
  }

  /** A transaction that ends without DATA: refused if every recipient was, else abandoned. */
  #unfinishedOutcome(): TransactionOutcome {
    const rcpts = this.tx?.rcpts ?? []
    if (rcpts.length === 0 || rcpts.some((r) => r.accepted)) return 'aborted'
    return rcpts.every((r) => r.reply?.startsWith('4')) ? 'tempfailed' : 'rejected'
  }

  /** Runs the helo stage once per HELO name; its permanent refusal holds for every later MAIL. */
  async #heloStage(helo: string, tx: TransactionRecord): Promise<void> {
    if (this.#helo?.name === helo) {
      if (!this.#helo.refusal) return
      refusalsFor(this.record.instance, 'helo', String(this.#helo.refusal.code)).inc()
      throw this.#helo.refusal
    }
    this.record.helo = helo
    this.#helo = null
    try {
      await this.#decide('helo', { tx })
      this.#helo = { name: helo, refusal: null }
    } catch (err) {
      if (err instanceof SmtpReply && err.isPermanent) this.#helo = { name: helo, refusal: err }
      throw err
    }
  }

  /** Runs a stage and throws its refusal, if any; a quarantine is remembered for DATA. */
  async #decide(stage: Stage, extra: StageExtra): Promise<void> {
    const decision = await this.#run(stage, extra)
    if (!decision) return
    if (decision.kind === 'quarantine') {
      if (this.tx) this.tx.quarantine ??= decision.reason
      return
    }
    refusalsFor(this.record.instance, stage, String(decision.reply.code)).inc()
    if (decision.offending) this.offending = true
    throw decision.reply
  }

  /** Runs the checks of a stage, then the score thresholds if the stage decides. */
  async #run(stage: Stage, extra: StageExtra): Promise<StageDecision> {
    const sink: ScoreSink = SESSION_STAGES.has(stage) || !extra.tx ? this.record : extra.tx
    const checks = this.policy.pipeline[stage]
    if (checks.length) {
      const deadline = Date.now() + this.policy.config.limits.command_timeout
      const ctx = { stage, session: this.record, log: this.log, reclassify: this.#reclassify, onClose: this.#onClose, ...extra }
      const decision = await runStage(checks, ctx, sink, deadline)
      if (decision) return decision
    }
    const score = this.record.score + (this.tx?.score ?? 0)
    const scored = decideScore(this.policy.config.scoring, stage, score, this.tx?.tempfailed ?? false)
    if (scored) {
      sink.checks.push({ check: 'score', stage, outcome: scored.kind, detail: `score ${score}`, reply: String(scored.reply), ms: 0 })
    }
    return scored
  }
}

interface StageExtra {
  tx?: TransactionRecord
  rcpt?: RecipientRecord
  message?: MessageData
  auth?: AuthAttempt
}

function newTransaction(session: string, address: SMTPServerAddress): TransactionRecord {
  const params: Record<string, string | boolean> = {}
  for (const [k, v] of Object.entries(address.args || {})) params[k] = v
  return newTransactionRecord({ id: newId(), session, mailFrom: address.address, params })
}
