import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import type { EgressFinding } from '../dns/egress-watch.js'
import { MAX_WHY } from '../limits/penalty-box.js'
import type { PenaltyBox } from '../limits/penalty-box.js'
import { alertsRaised } from '../metrics/alert-metrics.js'
import type { ClientKey, StatsStore } from '../stats/store.js'
import { LocalAuthFeed } from './auth-feed.js'
import type { AuthFeed } from './auth-feed.js'
import { AuthTrail } from './auth-trail.js'
import type { AuthAttempt } from './auth-trail.js'
import { crackedSending } from './cracked-sending.js'
import { ClientClasses, authAttemptOf } from './session-feed.js'
import type { SessionOutcome } from './session-feed.js'
import type { Dispatcher } from './dispatcher.js'
import { detailsEvidence } from './evidence.js'
import { openIncident } from './incident.js'
import type { Finding, Incident, IncidentEvent } from './incident.js'
import { evaluateRule, isStatsRule, sortFieldsOf, windowOf } from './rules.js'
import { defaultRules } from './schema.js'
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

const PENALTY_SCOPES = new Set(['address', 'subnet', 'user'])

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
  readonly auth = new AuthTrail()
  readonly classes = new ClientClasses()
  readonly #feed: AuthFeed
  #timers: NodeJS.Timeout[] = []
  #leader = false
  #round: Promise<void> | null = null

  constructor(deps: AlertingDeps) {
    this.#d = deps
    this.#feed = deps.authFeed ?? new LocalAuthFeed()
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
    const byClass = this.#d.config.rules
    const rules = Object.hasOwn(byClass, clientClass) ? byClass[clientClass]! : (byClass.default ?? BUILT_IN)
    return { rules, clientClass }
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
    const authFindings = this.auth.evaluate((k) => this.rulesOf(k), now)
    const stats = this.#d.stats
    // First: of equally severe rules for one address, the incident is the cracked account's (it names the account).
    const cracked = stats ? await crackedSending(this.auth.suspects((k) => this.rulesOf(k), now), stats, now) : []
    const findings = [...cracked, ...(await this.#statsFindings(now)), ...authFindings, ...this.#egressFindings()]
    await this.apply(findings, now)
    await this.#d.incidents.prune(now - this.#d.config.keep_resolved)
    await this.#d.dispatcher.run(now)
  }

  async #statsFindings(now: number): Promise<Finding[]> {
    const stats = this.#d.stats
    if (!stats) return []
    const allRules = [...Object.values(this.#d.config.rules).flat(), ...(this.#d.config.rules.default ? [] : BUILT_IN)].filter(isStatsRule)
    const queries = new Map<string, Parameters<StatsStore['top']>[0]>()
    for (const r of allRules) {
      for (const sort of sortFieldsOf(r)) {
        const q = { by: r.dimension, window: windowOf(r), sort, limit: this.#d.config.candidates }
        queries.set(JSON.stringify(q), q)
      }
    }
    const keys = new Set<ClientKey>()
    for (const q of queries.values()) for (const row of (await stats.top(q, now)).rows) keys.add(row.key)
    const findings: Finding[] = []
    for (const key of keys) {
      const view = await stats.show(key, now)
      if (!view) continue
      const { rules, clientClass } = this.rulesOf(key)
      for (const rule of rules) {
        if (!isStatsRule(rule) || !key.startsWith(`${rule.dimension}:`)) continue
        const f = evaluateRule(rule, view, clientClass)
        if (f) findings.push(f)
      }
    }
    return findings
  }

  #egressFindings(): Finding[] {
    const listed = (this.#d.egress?.() ?? []).filter((f) => f.status === 'listed')
    return listed.flatMap((e) => {
      const key = `address:${e.egress}`
      const { rules, clientClass } = this.rulesOf(key)
      return rules
        .filter((r) => r.kind === 'egress_listed')
        .map((rule) => ({
          rule,
          key,
          clientClass,
          window: 'now',
          observed: 1,
          baseline: null,
          threshold: 1,
          summary: `egress address ${e.egress} is listed in ${e.list}${e.detail ? `: ${e.detail}` : ''}`,
          evidence: detailsEvidence({ egress: e.egress, list: e.list, detail: e.detail ?? null }),
        }))
    })
  }

  /**
   * Turns a round's findings into incident events. Several rules firing for one client key make
   * one incident (the most severe rule's; the others are listed in its details), so a bot that
   * trips the burst and the rise rules is one ticket.
   */
  async apply(findings: readonly Finding[], now = Date.now()): Promise<void> {
    const seen = new Set<string>()
    const firing = (await this.#d.incidents.list()).filter((i) => i.status === 'firing')
    const byKey = new Map<string, Finding[]>()
    for (const f of findings) byKey.set(f.key, [...(byKey.get(f.key) ?? []), f])
    for (const group of byKey.values()) {
      group.sort((a, b) => SEVERITY[b.rule.severity] - SEVERITY[a.rule.severity])
      for (const f of group) seen.add(`${f.key}\0${f.rule.name}`)
      const ofKey = firing.filter((i) => i.client_key === group[0]!.key)
      const open: [Finding, Incident][] = []
      for (const f of group) {
        const i = ofKey.find((x) => x.rule === f.rule.name)
        if (i) open.push([f, i])
      }
      const others = (f: Finding) => group.filter((g) => g !== f).map((g) => `${g.rule.name}: ${g.summary}`)
      if (open.length) {
        for (const [f, i] of open) await this.#update(i, f, others(f), now)
      } else if (ofKey.length) {
        // Another rule's incident for this client is still open: it stays open, with these as news.
        for (const i of ofKey) {
          seen.add(`${i.client_key}\0${i.rule}`)
          if (now - Date.parse(i.last_seen) < LAST_SEEN_EVERY) continue
          const details = { ...i.evidence.details, also_firing: group.map((g) => `${g.rule.name}: ${g.summary}`) }
          await this.#d.incidents.put({ ...i, last_seen: new Date(now).toISOString(), evidence: { ...i.evidence, details } })
        }
      } else {
        await this.#open(group[0]!, others(group[0]!), now)
      }
    }
    for (const i of firing) {
      if (seen.has(`${i.client_key}\0${i.rule}`)) continue
      if (now - Date.parse(i.last_seen) >= this.#d.config.resolve_after) await this.#resolve(i, now)
    }
  }

  async #open(f: Finding, alsoFiring: string[], now: number): Promise<void> {
    const incident = openIncident(withAlso(f, alsoFiring), now)
    await this.#act(incident, f)
    await this.#d.incidents.put(incident)
    alertsRaised.labels(incident.rule, incident.severity).inc()
    this.#d.log.warn({ incident: incident.id, rule: incident.rule, client: incident.client_key, summary: incident.summary }, 'incident opened')
    await this.#enqueue(incident, 'firing', now)
  }

  /** New figures for a firing incident; delivered when they changed and the last delivery is `update_every` old. */
  async #update(open: Incident, f: Finding, alsoFiring: string[], now: number): Promise<void> {
    const at = new Date(now).toISOString()
    const g = withAlso(f, alsoFiring)
    const next: Incident = { ...open, observed: g.observed, baseline: g.baseline, summary: g.summary, evidence: g.evidence, window: g.window, last_seen: at }
    if (g.observed !== open.observed && now - Date.parse(open.updated_at) >= this.#d.config.update_every) {
      next.updated_at = at
      next.updates++
      await this.#d.incidents.put(next)
      await this.#enqueue(next, 'updated', now)
    } else if (g.observed !== open.observed || now - Date.parse(open.last_seen) >= LAST_SEEN_EVERY) {
      await this.#d.incidents.put(next)
    }
  }

  /** The rule's action on a new incident: the penalty box, the customer e-mail flag. */
  async #act(incident: Incident, f: Finding): Promise<void> {
    const ms = f.rule.action.penalty_box
    const scope = f.key.slice(0, f.key.indexOf(':'))
    const box = this.#d.penaltyBox?.()
    if (ms && box && PENALTY_SCOPES.has(scope)) {
      try {
        const why = f.summary.length > MAX_WHY ? `${f.summary.slice(0, MAX_WHY - 1)}…` : f.summary
        const entry = await box.add({ scope: scope as 'address' | 'subnet' | 'user', value: f.key.slice(scope.length + 1), who: `alert:${f.rule.name}`, why, durationMs: ms })
        incident.action.penalty_box_until = new Date(entry.until).toISOString()
      } catch (err) {
        this.#d.log.error({ err, incident: incident.id }, 'could not put the client in the penalty box')
      }
    }
    incident.action.customer_notified = f.rule.action.notify_customer && Object.hasOwn(this.#d.config.contacts, f.key)
  }

  async #resolve(i: Incident, now: number, by?: string): Promise<Incident> {
    const at = new Date(now).toISOString()
    const next: Incident = { ...i, status: 'resolved', resolved_at: at, updated_at: at, updates: i.updates + 1, ...(by ? { acked: i.acked ?? { by, at } } : {}) }
    await this.#d.incidents.put(next)
    this.#d.log.info({ incident: i.id, by: by ?? 'quiet' }, 'incident resolved')
    await this.#enqueue(next, 'resolved', now)
    return next
  }

  async #enqueue(incident: Incident, event: IncidentEvent, now: number): Promise<void> {
    for (const s of this.#d.dispatcher.senders) {
      if (!s.wants(incident, event)) continue
      await this.#d.outbox.put({ id: `evt_${randomUUID()}`, sender: s.name, incident_id: incident.id, event, incident, attempts: 0, next_at: now, created_at: now })
    }
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
    const next = await this.#resolve(i, Date.now(), by)
    if (this.#leader) void this.#d.dispatcher.run().catch(() => undefined)
    return next
  }
}

const BUILT_IN = defaultRules()

const SEVERITY = { info: 0, warning: 1, critical: 2 } as const

/** A firing incident whose figures did not change is written back (its last_seen) at most this often. */
const LAST_SEEN_EVERY = 60_000

/** The finding with the other rules that fired for its client key in its details. */
function withAlso(f: Finding, alsoFiring: string[]): Finding {
  return alsoFiring.length ? { ...f, evidence: { ...f.evidence, details: { ...f.evidence.details, also_firing: alsoFiring } } } : f
}
