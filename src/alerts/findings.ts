import type { EgressFinding } from '../dns/egress-watch.js'
import type { ClientKey, StatsStore } from '../stats/store.js'
import { detailsEvidence } from './evidence.js'
import type { Finding } from './incident.js'
import { evaluateRule, isStatsRule, sortFieldsOf, windowOf } from './rules.js'
import { defaultRules } from './schema.js'
import type { AlertRule, AlertsConfig } from './schema.js'

const BUILT_IN = defaultRules()

/** The rules and the class of a client key, as the alerting resolves them. */
export type RulesOf = (key: string) => { rules: readonly AlertRule[]; clientClass: string }

/** The rules of a client class: its own, else the policy's `default`, else the built-in ones. */
export function rulesOfClass(config: AlertsConfig, clientClass: string): readonly AlertRule[] {
  const byClass = config.rules
  return Object.hasOwn(byClass, clientClass) ? byClass[clientClass]! : (byClass.default ?? BUILT_IN)
}

/**
 * What the statistics rules find this round: the busiest client keys of each rule's window
 * and sort field (at most `candidates` each), judged by their class's rules.
 */
export async function statsFindings(config: AlertsConfig, stats: StatsStore, rulesOf: RulesOf, now: number): Promise<Finding[]> {
  const allRules = [...Object.values(config.rules).flat(), ...(config.rules.default ? [] : BUILT_IN)].filter(isStatsRule)
  const queries = new Map<string, Parameters<StatsStore['top']>[0]>()
  for (const r of allRules) {
    for (const sort of sortFieldsOf(r)) {
      const q = { by: r.dimension, window: windowOf(r), sort, limit: config.candidates }
      queries.set(JSON.stringify(q), q)
    }
  }
  const keys = new Set<ClientKey>()
  for (const q of queries.values()) for (const row of (await stats.top(q, now)).rows) keys.add(row.key)
  const findings: Finding[] = []
  for (const key of keys) {
    const view = await stats.show(key, now)
    if (!view) continue
    const { rules, clientClass } = rulesOf(key)
    for (const rule of rules) {
      if (!isStatsRule(rule) || !key.startsWith(`${rule.dimension}:`)) continue
      const f = evaluateRule(rule, view, clientClass)
      if (f) findings.push(f)
    }
  }
  return findings
}

/** What `egress_listed` finds in the egress watch's latest round: one finding per listed address and rule. */
export function egressFindings(round: readonly EgressFinding[], rulesOf: RulesOf): Finding[] {
  const listed = round.filter((f) => f.status === 'listed')
  return listed.flatMap((e) => {
    const key = `address:${e.egress}`
    const { rules, clientClass } = rulesOf(key)
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
