import type { SMTPServerAddress, SMTPServerAuthentication, SMTPServerSession } from 'smtp-server'
import type { Logger } from 'pino'
import type { ClassChoice } from '../classes/classifier.js'
import type { InstancePolicy } from '../config/instance-policy.js'
import type { ListenerConfig } from '../config/schema.js'
import { authUnavailable, localError, shuttingDown } from '../errors/replies.js'
import { SmtpReply } from '../errors/smtp-reply.js'
import type { RelayEvents } from '../events/relay-events.js'
import type { DisconnectReason, EventReply, SessionEventStage, SessionOutcome } from '../events/types.js'
import { clientFaultsFor, refusalsFor, transactionsFor } from '../metrics/relay-metrics.js'
import { decideScore } from '../pipeline/decide.js'
import type { RecipientRecord, SessionRecord, TransactionOutcome, TransactionRecord } from '../pipeline/record.js'
import { newTransactionRecord } from '../pipeline/record.js'
import { runStage } from '../pipeline/runner.js'
import type { ScoreSink, StageDecision } from '../pipeline/runner.js'
import type { AuthAttempt, CheckResult, Stage } from '../pipeline/types.js'
import { SESSION_STAGES } from '../pipeline/types.js'
import { splitAddress } from '../relay/address.js'
import type { MessageData } from '../relay/message.js'
import type { HopTransaction } from '../relay/hop-transaction.js'
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
  /** Where the session's outcomes and transactions go (the log, statistics, alerts). */
  readonly events: RelayEvents
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
  /** The current transaction as relayed to a next hop, from its first accepted RCPT. */
  #hop: HopTransaction | null = null
  #closed = false
  #refusedAtConnect = false

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
    // The refusal's event (with the name tried) comes from the listener, as for every AUTH refusal.
    if (!ok) {
      const reply = this.errors.authFailed()
      if (reply.code === 421) clientFaultsFor(this.record.instance, this.record.listener, 'auth_session_limit').inc()
      throw reply
    }
    this.record.user = username
    this.#setSessionClass(this.policy.classifier.afterAuth(username))
    this.#emitSession('auth', 'authenticated', null, null)
  }

  /**
   * The client was refused at connect, TLS or AUTH (by a check, the listener or a fault): an
   * event with the reply it got. `user` is the name an AUTH refusal was for.
   */
  refused(stage: 'connect' | 'tls' | 'auth', err: unknown, user: string | null = null): void {
    const reply = err instanceof SmtpReply ? err : localError()
    if (stage === 'connect') this.#refusedAtConnect = true
    this.#emitSession(stage, reply.isTemporary ? 'tempfailed' : 'rejected', reply, user, null, !this.errors.logRefusal())
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
      // Only a recipient our own checks accepted reaches the next hop, whose verdict the client
      // then gets: no recipient told 250 can be refused later (smtpd_proxy_filter style).
      const verdict = await this.#nextHop(tx).rcpt(address.address)
      if (verdict.code >= 300) {
        refusalsFor(this.record.instance, 'rcpt', String(verdict.code)).inc()
        throw verdict
      }
    } catch (err) {
      rcpt.reply = String(err instanceof SmtpReply ? err : localError())
      if (err instanceof SmtpReply && err.isTemporary) tx.tempfailed = true
      throw err
    }
    rcpt.accepted = true
  }

  /** The transaction as relayed to the next hop, opened at the first RCPT. */
  get nextHop(): HopTransaction | null {
    return this.#hop
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

  /** Ends the current transaction, counts it and emits its event. */
  endTransaction(outcome: TransactionOutcome, reply?: unknown): void {
    const tx = this.tx
    if (!tx) return
    this.tx = null
    // A transaction ended without its message going out gives its next-hop connection back (RSET);
    // what the hops said at RCPT stays on the record.
    const hop = this.#hop
    if (hop) {
      hop.abort()
      this.#hop = null
      const last = hop.attempts.at(-1)
      if (!tx.nextHop && last) {
        tx.nextHop = { host: last.host, reply: last.reply, ms: last.ms, attempts: hop.attempts }
      }
    }
    tx.outcome = outcome
    const given = reply === undefined ? null : reply instanceof SmtpReply ? reply : localError()
    if (given) tx.reply = String(given)
    tx.timings.end = Date.now()
    transactionsFor(this.record.instance, outcome).inc()
    if (outcome === 'delivered') this.errors.delivered()
    const events = this.env.events
    if (events.wantsTransactions) {
      // A refusal by a check of this transaction, else by the HELO checks (given again at every MAIL).
      const decided = given && given.code >= 400 && given.reason !== 'next-hop'
      const check = decided ? (decidingCheck(tx.checks, null) ?? decidingCheck(this.record.checks, 'helo')) : null
      const quiet = (outcome === 'rejected' || outcome === 'tempfailed') && !this.errors.logRefusal()
      events.emitTransaction({ type: 'transaction', time: tx.timings.end, session: this.record, tx, check, reply: given, ...(quiet ? { quiet } : {}) })
    }
  }

  /**
   * The connection is gone: ends an open transaction, releases what checks counted and emits
   * the disconnect. `quit`: the client said QUIT; `lastError`: the last error reply it got
   * (smtp-server's), which says whether we closed it (timeout, too many errors, drain).
   */
  close(quit = false, lastError?: string): void {
    // A message handed to the next hop is ended by the relay when the hop answers, even
    // after the client has gone: it may well be delivered.
    if (!this.tx?.timings.data) this.endTransaction(this.#unfinishedOutcome())
    this.#closed = true
    if (this.env.events.wantsSessions) {
      const reason = disconnectReason(quit, lastError, this.#refusedAtConnect)
      // smtp-server's own reply (a timeout) is no SmtpReply of ours: read back from the wire form.
      const last = lastError && reason !== 'quit' && reason !== 'lost' ? SmtpReply.parse(lastError) : null
      const reply = last && { code: last.code, enhanced: last.enhanced, text: last.text, reason }
      this.#emitSession('close', 'disconnected', reply, null, reason)
    }
    if (this.errors.unlogged) {
      this.log.info({ unlogged: this.errors.unlogged }, `${this.errors.unlogged} further refusals in this session were not logged`)
    }
    for (const release of this.#closers.splice(0)) this.#release(release)
  }

  #nextHop(tx: TransactionRecord): HopTransaction {
    this.#hop ??= this.env.nextHops().begin({
      id: tx.id,
      from: tx.mailFrom,
      eightBit: String(tx.params.BODY ?? '').toUpperCase() === '8BITMIME',
      smtputf8: tx.params.SMTPUTF8 === true,
      size: Number(tx.params.SIZE) || undefined,
    })
    return this.#hop
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
      if (err instanceof SmtpReply) this.#emitSession('helo', err.isTemporary ? 'tempfailed' : 'rejected', err, null, null, !this.errors.logRefusal())
      throw err
    }
  }

  /** Emits a session outcome, built only when someone listens. */
  #emitSession(
    stage: SessionEventStage,
    outcome: SessionOutcome,
    reply: EventReply | null,
    user: string | null,
    reason: DisconnectReason | null = null,
    quiet = false,
  ): void {
    const events = this.env.events
    if (!events.wantsSessions) return
    const check = reply && stage !== 'close' ? decidingCheck(this.record.checks, stage) : null
    events.emitSession({ type: 'session', time: Date.now(), session: this.record, stage, outcome, check, reply, reason, user, ...(quiet ? { quiet } : {}) })
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

/**
 * The check that refused, if a check did: the last one run (of `stage`, if given) when it
 * refused (not in warn mode). A stage ends at its first refusal; a refusal given after the
 * checks passed (a wrong password, the listener, the next hop) leaves one that did not refuse last.
 */
function decidingCheck(checks: readonly CheckResult[], stage: Stage | null): string | null {
  for (let i = checks.length - 1; i >= 0; i--) {
    const c = checks[i]
    if (!c || (stage !== null && c.stage !== stage)) continue
    return (c.outcome === 'reject' || c.outcome === 'tempfail') && !c.warn ? c.check : null
  }
  return null
}

/**
 * Why a connection ended, from what smtp-server knows of it: QUIT, or the last error reply
 * when it was a 421 (which closes), or a refusal at connect; else the client went away.
 */
export function disconnectReason(quit: boolean, lastError: string | undefined, refusedAtConnect: boolean): DisconnectReason {
  if (quit) return 'quit'
  if (refusedAtConnect) return 'refused'
  // A protocol violation (early talk, unauthorized pipelining) is answered 554 5.5.0 and closed.
  if (lastError?.startsWith('554 5.5.0 ')) return 'closed'
  if (!lastError?.startsWith('421')) return 'lost'
  if (/\btimeout\b/i.test(lastError)) return 'timeout'
  if (/too many/i.test(lastError)) return 'errors'
  if (lastError.startsWith(`421 ${shuttingDown().enhanced} `)) return 'drain'
  return 'closed'
}

function newTransaction(session: string, address: SMTPServerAddress): TransactionRecord {
  const params: Record<string, string | boolean> = {}
  for (const [k, v] of Object.entries(address.args || {})) params[k] = v
  return newTransactionRecord({ id: newId(), session, mailFrom: address.address, params })
}
