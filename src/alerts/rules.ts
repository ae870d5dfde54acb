import type { WindowCounts } from '../stats/client-stats.js'
import type { ClientView } from '../stats/store.js'
import type { WindowName } from '../stats/windows.js'
import { evidenceOf } from './evidence.js'
import type { Finding } from './incident.js'
import type { AlertRule } from './schema.js'

/** Rules read from the per-client statistics (the AUTH and egress rules have their own sources). */
export type StatsRule = Extract<AlertRule, { kind: 'volume' | 'rise' | 'refusal_ratio' | 'bounce' | 'domain_fanout' | 'spf_relay_not_authorized' }>

export const STATS_RULE_KINDS: readonly StatsRule['kind'][] = ['volume', 'rise', 'refusal_ratio', 'bounce', 'domain_fanout', 'spf_relay_not_authorized']

export const isStatsRule = (r: AlertRule): r is StatsRule => (STATS_RULE_KINDS as readonly string[]).includes(r.kind)

/** The counter a `volume` rule reads. */
const COUNTER = {
  messages: 'accepted',
  recipients: 'recipients',
  refused: 'refused',
  auth_failures: 'auth_failures',
  connections: 'connections',
  bounces: 'null_sender',
} as const

const pct = (x: number) => `${Math.round(x * 100)}%`

/**
 * Evaluates one statistics rule against a client key's view; a finding when it fires.
 *
 * @example evaluateRule({ kind: 'volume', counter: 'messages', window: '5m', above: 500, … }, view, 'default')
 */
export function evaluateRule(rule: StatsRule, view: ClientView, clientClass: string): Finding | null {
  const found = (window: WindowName, counts: WindowCounts, observed: number, threshold: number, summary: string, baseline: number | null = null): Finding => ({
    rule,
    key: view.key,
    clientClass,
    window,
    observed,
    baseline,
    threshold,
    summary,
    evidence: evidenceOf(view, counts),
  })
  switch (rule.kind) {
    case 'volume': {
      const counts = view.windows[rule.window]
      const n = counts[COUNTER[rule.counter]]
      return n >= rule.above ? found(rule.window, counts, n, rule.above, `${n} ${rule.counter} in ${rule.window} (threshold ${rule.above})`) : null
    }
    case 'rise': {
      const counts = view.windows['1h']
      const series = rule.series === 'messages' ? counts.accepted : counts[rule.series]
      if (series < rule.min_volume) return null
      const c = view.baseline?.[rule.series]
      if (!c) {
        if (rule.new_client_volume === null || series < rule.new_client_volume) return null
        return found('1h', counts, series, rule.new_client_volume, `${series} ${rule.series} in the last hour from a client with no history (threshold ${rule.new_client_volume})`)
      }
      if (c.ratio < rule.ratio || c.z < rule.z) return null
      return found('1h', counts, series, rule.ratio, `${series} ${rule.series} in the last hour, ${c.ratio}× the usual ${c.expected} (z ${c.z})`, c.expected)
    }
    case 'refusal_ratio': {
      const counts = view.windows[rule.window]
      if (counts.transactions < rule.min_volume) return null
      const refused = rule.reasons.reduce((n, r) => n + (counts.refused_by[r] ?? 0), 0)
      const share = refused / counts.transactions
      if (share < rule.ratio) return null
      return found(rule.window, counts, refused, rule.ratio, `${refused} of ${counts.transactions} transactions in ${rule.window} refused (${pct(share)}) for ${rule.reasons.join(', ')}`)
    }
    case 'bounce': {
      const counts = view.windows[rule.window]
      const share = counts.transactions ? counts.null_sender / counts.transactions : 0
      if (counts.null_sender < rule.min_volume || counts.recipient_domains < rule.recipient_domains || share < rule.ratio) return null
      return found(
        rule.window,
        counts,
        counts.null_sender,
        rule.min_volume,
        `${counts.null_sender} null-sender messages (${pct(share)} of transactions) to ${counts.recipient_domains} recipient domains in ${rule.window}`,
      )
    }
    case 'domain_fanout': {
      const counts = view.windows[rule.window]
      if (counts.transactions < rule.min_volume || counts.recipient_domains < rule.above) return null
      return found(rule.window, counts, counts.recipient_domains, rule.above, `${counts.recipient_domains} distinct recipient domains in ${rule.window} (threshold ${rule.above})`)
    }
    case 'spf_relay_not_authorized': {
      const counts = view.windows[rule.window]
      const n = counts.spf_relay_not_authorized
      if (n < rule.above) return null
      const clients = view.spfRelayClients.map((c) => `${c.client} ${c.count}`).join(', ')
      const f = found(rule.window, counts, n, rule.above, `${n} messages in ${rule.window} whose SPF passes for the client but fails for this relay (sent by ${clients || 'unknown clients'})`)
      return { ...f, evidence: { ...f.evidence, details: { clients: view.spfRelayClients } } }
    }
  }
}

/** The `stats top` sort fields that bring a rule's offenders to the top of a list. */
export function sortFieldsOf(rule: StatsRule): ('messages' | 'refused' | 'recipients' | 'bounces' | 'auth_failures' | 'connections' | 'spf_relay_not_authorized')[] {
  switch (rule.kind) {
    case 'volume':
      return [rule.counter]
    case 'rise':
      return [rule.series === 'refused' ? 'refused' : rule.series]
    case 'refusal_ratio':
      return ['refused']
    case 'bounce':
      return ['bounces']
    case 'domain_fanout':
      return ['recipients']
    case 'spf_relay_not_authorized':
      return ['spf_relay_not_authorized']
  }
}

/** The window a rule's candidates are ranked over. */
export function windowOf(rule: StatsRule): WindowName {
  return rule.kind === 'rise' ? '1h' : rule.window
}
