import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import { MAX_WHY } from '../limits/penalty-box.js'
import type { PenaltyBox } from '../limits/penalty-box.js'
import { alertsRaised } from '../metrics/alert-metrics.js'
import type { Dispatcher } from './dispatcher.js'
import { openIncident } from './incident.js'
import type { Finding, Incident, IncidentEvent } from './incident.js'
import type { AlertsConfig } from './schema.js'
import type { IncidentStore, Outbox } from './store.js'

/** What the incident lifecycle needs: the alerts settings, the stores, the senders and the penalty box. */
export interface IncidentLifecycleDeps {
  config: AlertsConfig
  incidents: IncidentStore
  outbox: Outbox
  dispatcher: Dispatcher
  /** The penalty box actions put clients in (the outbound instance's). */
  penaltyBox?: () => PenaltyBox | undefined
  log: Logger
}

const PENALTY_SCOPES = new Set(['address', 'subnet', 'user'])

const SEVERITY = { info: 0, warning: 1, critical: 2 } as const

/** A firing incident whose figures did not change is written back (its last_seen) at most this often. */
const LAST_SEEN_EVERY = 60_000

/**
 * Findings → incidents → outbox: a new incident fires (and takes its action), one still firing
 * is updated at most every `update_every` when its figures changed, and one whose rule stayed
 * quiet for `resolve_after` is resolved. Every event goes to every sender through the outbox.
 */
export class IncidentLifecycle {
  readonly #d: IncidentLifecycleDeps

  constructor(deps: IncidentLifecycleDeps) {
    this.#d = deps
  }

  /**
   * Turns a round's findings into incident events. Several rules firing for one client key make
   * one incident (the most severe rule's; the others are listed in its details), so a bot that
   * trips the burst and the rise rules is one ticket.
   */
  async apply(findings: readonly Finding[], now: number): Promise<void> {
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
      if (now - Date.parse(i.last_seen) >= this.#d.config.resolve_after) await this.resolve(i, now)
    }
  }

  /** Resolves a firing incident, by `by` (the desk) or because its rule went quiet, and queues the resolution. */
  async resolve(i: Incident, now: number, by?: string): Promise<Incident> {
    const at = new Date(now).toISOString()
    const next: Incident = { ...i, status: 'resolved', resolved_at: at, updated_at: at, updates: i.updates + 1, ...(by ? { acked: i.acked ?? { by, at } } : {}) }
    await this.#d.incidents.put(next)
    this.#d.log.info({ incident: i.id, by: by ?? 'quiet' }, 'incident resolved')
    await this.#enqueue(next, 'resolved', now)
    return next
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

  async #enqueue(incident: Incident, event: IncidentEvent, now: number): Promise<void> {
    for (const s of this.#d.dispatcher.senders) {
      if (!s.wants(incident, event)) continue
      await this.#d.outbox.put({ id: `evt_${randomUUID()}`, sender: s.name, incident_id: incident.id, event, incident, attempts: 0, next_at: now, created_at: now })
    }
  }
}

/** The finding with the other rules that fired for its client key in its details. */
function withAlso(f: Finding, alsoFiring: string[]): Finding {
  return alsoFiring.length ? { ...f, evidence: { ...f.evidence, details: { ...f.evidence.details, also_firing: alsoFiring } } } : f
}
