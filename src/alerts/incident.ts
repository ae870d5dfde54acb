import { createHash } from 'node:crypto'
import type { RefusalReason } from '../stats/counters.js'
import type { AlertRule, RuleKind } from './schema.js'

/** What a rule found about one client key in one evaluation. */
export interface Finding {
  rule: AlertRule
  /** The client key, e.g. `address:192.0.2.7`, `user:alice`, `address:203.0.113.5` (an egress address). */
  key: string
  clientClass: string
  /** The window read, as `5m`, `15m`, `1h`. */
  window: string
  observed: number
  /** The client's usual value (baseline expectation), when the rule compares with one. */
  baseline: number | null
  threshold: number
  /** One line for the desk: "612 messages in 5m (threshold 500)". */
  summary: string
  evidence: Evidence
}

/** The bounded evidence an incident carries. */
export interface Evidence {
  counts: Record<string, number>
  refused_by: Partial<Record<RefusalReason, number>>
  top_recipient_domains: { domain: string; count: number }[]
  samples: { at: string; outcome: string; from: string; subject?: string; message_id?: string; reply?: string }[]
  refusals: { at: string; reason: string; check: string; reply: string }[]
  /** Further facts of the rule: the AUTH addresses, the block list. */
  details?: Record<string, unknown>
}

export type IncidentStatus = 'firing' | 'resolved'
export type IncidentEvent = 'firing' | 'updated' | 'resolved'

/** An anomaly as the abuse desk sees it: one per client key and rule while it lasts. */
export interface Incident {
  id: string
  rule: string
  kind: RuleKind
  severity: AlertRule['severity']
  client_key: string
  client_class: string
  status: IncidentStatus
  window: string
  observed: number
  baseline: number | null
  threshold: number
  summary: string
  evidence: Evidence
  first_seen: string
  last_seen: string
  /** When the last delivered event (firing or updated) was made. */
  updated_at: string
  resolved_at: string | null
  /** Events delivered for it so far beyond the first (updates and the resolution). */
  updates: number
  acked: { by: string; at: string } | null
  action: { penalty_box_until: string | null; customer_notified: boolean }
  next_step: string
}

/**
 * The id of an incident: stable for a client key and rule from its first firing, the same on
 * every node (derived, not random), so a ticket system can find it again.
 *
 * @example incidentId('address:192.0.2.7', 'message_burst', 1764655200000) // 'inc-3f1c…'
 */
export function incidentId(key: string, rule: string, firstSeen: number): string {
  return `inc-${createHash('sha256').update(`${key}\n${rule}\n${firstSeen}`).digest('hex').slice(0, 20)}`
}

/** A new incident from a rule's first finding. */
export function openIncident(f: Finding, now: number): Incident {
  const at = new Date(now).toISOString()
  return {
    id: incidentId(f.key, f.rule.name, now),
    rule: f.rule.name,
    kind: f.rule.kind,
    severity: f.rule.severity,
    client_key: f.key,
    client_class: f.clientClass,
    status: 'firing',
    window: f.window,
    observed: f.observed,
    baseline: f.baseline,
    threshold: f.threshold,
    summary: f.summary,
    evidence: f.evidence,
    first_seen: at,
    last_seen: at,
    updated_at: at,
    resolved_at: null,
    updates: 0,
    acked: null,
    action: { penalty_box_until: null, customer_notified: false },
    next_step: nextStep(f.rule.kind, f.key),
  }
}

/** What the desk should do next, by kind of rule. */
export function nextStep(kind: RuleKind, key: string): string {
  const who = key.slice(key.indexOf(':') + 1)
  switch (kind) {
    case 'volume':
    case 'rise':
    case 'domain_fanout':
      return `Look at the samples: if this is not the customer's own mailing, ${who} is likely infected; contact the customer and keep it in the penalty box until cleaned.`
    case 'refusal_ratio':
      return `Most of ${who}'s mail is refused by content, DNSBL, SPF or header checks: contact the customer about the sending host.`
    case 'bounce':
      return `${who} relays bounces (MAIL FROM:<>) to many recipients: its server accepts mail for unknown users and bounces later (backscatter). Ask the customer to reject at SMTP time.`
    case 'auth_burst':
      return `The account ${who} is being guessed: check that its password is strong; lock it out if the guessing goes on.`
    case 'auth_cracked':
      return `The account ${who} logged in after password guessing from a new address: reset its password now and review what it sent.`
    case 'spf_relay_not_authorized':
      return `${who}'s SPF record names its customers' own addresses but not this relay, so destinations may refuse its mail: ask the domain's administrator to add an include: of the ISP's SPF record (the customer is not at fault).`
    case 'auth_cracked_sending':
      return `${who} logged in with a guessed password and sends in volume: it is held in the penalty box, the account's usual addresses are not. Reset the account's password now, then let ${who} out.`
    case 'egress_listed':
      return `Our egress address ${who} is listed: find the customer whose mail caused it (see the other open incidents), stop it, then request delisting.`
  }
}
