import type { Logger } from 'pino'
import type { EgressFinding } from '../dns/egress-watch.js'
import type { PenaltyBox } from '../limits/penalty-box.js'
import type { StatsStore } from '../stats/store.js'
import { LocalAuthFeed } from './auth-feed.js'
import type { AuthFeed } from './auth-feed.js'
import { AuthTrail } from './auth-trail.js'
import type { AuthAttempt } from './auth-trail.js'
import { crackedSending } from './cracked-sending.js'
import { ClientClasses, authAttemptOf } from './session-feed.js'
import type { SessionOutcome } from './session-feed.js'
import type { Dispatcher } from './dispatcher.js'
import { egressFindings, rulesOfClass, statsFindings } from './findings.js'
import type { Finding, Incident } from './incident.js'
import { IncidentLifecycle } from './incident-lifecycle.js'
import type { AlertRule, AlertsConfig } from './schema.js'
import type { IncidentStore, Lease, Outbox } from './store.js'

/** What the alerting needs from the running relay. */
export interface AlertingDeps {
  config: AlertsConfig
  /** The per-client statistics the rules read; null: only the AUTH and egress rules run. */
  stats: StatsStore | null
  incidents: IncidentStore
  outbox: Outbox
  dispatcher: Dispatcher
  lease: Lease
  /** Where AUTH attempts wait for the evaluating node; this process's memory when not given. */
  authFeed?: AuthFeed
  /** The penalty box actions put clients in (the outbound instance's). */
  penaltyBox?: () => PenaltyBox | undefined
  /** The egress watch's latest round: listed addresses fire `egress_listed`. */
  egress?: () => readonly EgressFinding[]
  /** The policy class of a client key; by default the class its sessions had (see noteSession), else `default`. */
  classOf?: (key: string) => string
  /**
   * The class the policy's own lists give a client key this process never saw a session of
   * (in a cluster, another node's client); undefined: none, the key takes `default`.
   */
  listedClassOf?: (key: string) => string | undefined
  log: Logger
}

/** A request about an incident the desk cannot make (unknown id). */
export class IncidentNotFound extends Error {}

/**
 * Anomaly rules → incidents → outbox. Every `evaluate_every` the node holding the lease reads
 * the busiest client keys from the statistics, runs each key's class rules, the AUTH trail and
 * the egress findings, and turns what fires into incidents: a new one fires (and takes its
 * action), one still firing is updated at most every `update_every` when its figures changed,
 * and one whose rule stayed quiet for `resolve_after` is resolved. Every event goes to every
 * sender through the outbox.
 */
export class Alerting {
  readonly #d: AlertingDeps
  readonly #lifecycle: IncidentLifecycle
  readonly auth = new AuthTrail()
  readonly classes = new ClientClasses()
  readonly #feed: AuthFeed
  #timers: NodeJS.Timeout[] = []
  #leader = false
  #round: Promise<void> | null = null

  constructor(deps: AlertingDeps) {
    this.#d = deps
    this.#feed = deps.authFeed ?? new LocalAuthFeed()
    this.#lifecycle = new IncidentLifecycle(deps)
  }

  start(): void {
    const every = this.#d.config.evaluate_every
    this.#timers.push(setInterval(() => void this.evaluate().catch((err: unknown) => this.#d.log.error({ err }, 'alert evaluation failed')), every).unref())
    // Retries come due between evaluations; only the lease holder sends.
    this.#timers.push(setInterval(() => void (this.#leader ? this.#d.dispatcher.run() : Promise.resolve()).catch(() => undefined), Math.min(every, 1000)).unref())
    void this.#d.lease.hold().then((held) => {
      this.#leader = held
      if (held) void this.#d.dispatcher.run().catch(() => undefined)
    })
  }

  async stop(): Promise<void> {
    for (const t of this.#timers) clearInterval(t)
    this.#timers = []
    await this.#round
    await this.#d.lease.release()
  }

  /** An AUTH attempt from the relay's session events. */
  noteAuth(a: AuthAttempt): void {
    this.#feed.push(a)
  }

  /**
   * A session outcome from the relay's event stream: its client's class, and its AUTH attempt.
   *
   * @example events.onSession((e) => alerting.noteSession(e))
   */
  noteSession(e: SessionOutcome): void {
    this.classes.record(e.session)
    const attempt = authAttemptOf(e)
    if (attempt) this.#feed.push(attempt)
  }

  /**
   * A finished transaction from the relay's event stream: its client's class. Learned here too,
   * not only when the session ends, so a bulk sender's long session is judged by its class's
   * rules while it is still sending.
   */
  noteTransaction(e: { session: SessionOutcome['session'] }): void {
    this.classes.record(e.session)
  }

  /** The rules of a client key's class, and the class. */
  rulesOf(key: string): { rules: readonly AlertRule[]; clientClass: string } {
    const clientClass = this.#d.classOf?.(key) ?? this.classes.known(key) ?? this.#d.listedClassOf?.(key) ?? 'default'
    return { rules: rulesOfClass(this.#d.config, clientClass), clientClass }
  }

  /** One evaluation round (when this node holds the lease); a round already running is shared. */
  evaluate(now = Date.now()): Promise<void> {
    this.#round ??= this.#evaluate(now).finally(() => (this.#round = null))
    return this.#round
  }

  async #evaluate(now: number): Promise<void> {
    this.#leader = await this.#d.lease.hold()
    if (!this.#leader) return
    for (const a of await this.#feed.drain()) this.auth.record(a)
    const rulesOf = (k: string) => this.rulesOf(k)
    const authFindings = this.auth.evaluate(rulesOf, now)
    const stats = this.#d.stats
    // First: of equally severe rules for one address, the incident is the cracked account's (it names the account).
    const cracked = stats ? await crackedSending(this.auth.suspects(rulesOf, now), stats, now) : []
    const fromStats = stats ? await statsFindings(this.#d.config, stats, rulesOf, now) : []
    const findings = [...cracked, ...fromStats, ...authFindings, ...egressFindings(this.#d.egress?.() ?? [], rulesOf)]
    await this.apply(findings, now)
    await this.#d.incidents.prune(now - this.#d.config.keep_resolved)
    await this.#d.dispatcher.run(now)
  }

  /**
   * Turns a round's findings into incident events (see IncidentLifecycle.apply): one incident
   * per client key, opened, updated or resolved.
   */
  apply(findings: readonly Finding[], now = Date.now()): Promise<void> {
    return this.#lifecycle.apply(findings, now)
  }

  list(): Promise<Incident[]> {
    return this.#d.incidents.list()
  }

  get(id: string): Promise<Incident | null> {
    return this.#d.incidents.get(id)
  }

  /** The desk has seen it: recorded on the incident (no event is sent). */
  async ack(id: string, by: string): Promise<Incident> {
    const i = await this.#d.incidents.get(id)
    if (!i) throw new IncidentNotFound(`no incident ${id}`)
    const next: Incident = { ...i, acked: { by, at: new Date().toISOString() } }
    await this.#d.incidents.put(next)
    return next
  }

  /** The desk closes it by hand: resolved now, and the resolution is delivered. */
  async resolve(id: string, by: string): Promise<Incident> {
    const i = await this.#d.incidents.get(id)
    if (!i) throw new IncidentNotFound(`no incident ${id}`)
    if (i.status === 'resolved') return i
    const next = await this.#lifecycle.resolve(i, Date.now(), by)
    if (this.#leader) void this.#d.dispatcher.run().catch(() => undefined)
    return next
  }
}
