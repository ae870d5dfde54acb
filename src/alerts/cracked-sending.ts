import type { ClientKey, StatsStore } from '../stats/store.js'
import type { Suspect } from './auth-trail.js'
import { evidenceOf } from './evidence.js'
import type { Finding } from './incident.js'

const iso = (ms: number) => new Date(ms).toISOString()

/**
 * `auth_cracked_sending`: of the new addresses that logged in after AUTH failures, those whose
 * volume in the statistics reached the rule's threshold. The finding's client key is the new
 * address, so the rule's penalty box holds it and not the account (whose owner logs in from
 * its known addresses).
 */
export async function crackedSending(suspects: readonly Suspect[], stats: StatsStore, now: number): Promise<Finding[]> {
  const findings: Finding[] = []
  for (const s of suspects) {
    const key: ClientKey = `address:${s.login.address}`
    const view = await stats.show(key, now)
    if (!view) continue
    const { rule } = s
    const counts = view.windows[rule.volume_window]
    const observed = Math.round(rule.counter === 'messages' ? counts.accepted : counts.recipients)
    if (observed < rule.above) continue
    findings.push({
      rule,
      key,
      clientClass: s.clientClass,
      window: rule.volume_window,
      observed,
      baseline: null,
      threshold: rule.above,
      // Also the penalty box reason the new address is told: it names the account.
      summary: `${s.login.address} logged in as ${s.user} after ${s.failures.length} AUTH failures and sent ${observed} ${rule.counter} in ${rule.volume_window}`,
      evidence: {
        ...evidenceOf(view, counts),
        details: {
          user: s.user,
          success_from: s.login.address,
          success_at: iso(s.login.at),
          failures: s.failures.length,
          failure_addresses: countBy(s.failures.map((f) => f.address)).slice(0, 10),
          first_failure_at: iso(s.failures[0]?.at ?? s.login.at),
          known_addresses: s.known,
          [rule.counter]: observed,
        },
      },
    })
  }
  return findings
}

function countBy(values: string[]): { address: string; count: number }[] {
  const m = new Map<string, number>()
  for (const v of values) m.set(v, (m.get(v) ?? 0) + 1)
  return [...m].sort((a, b) => b[1] - a[1]).map(([address, count]) => ({ address, count }))
}
