import { NetworkList } from '../relay/networks.js'
import type { IntruderRecord } from './profiles/cracked.js'
import type { Profile } from './profile.js'
import type { ReceivedIncident } from './webhook-receiver.js'

/** One incident as a profile's report shows it. */
export interface IncidentLine {
  id: string
  rule: string
  severity: string
  client_key: string
  /** Other rules that fired for the same key when it was raised (one incident per key). */
  also_firing: string[]
  /** Seconds from the profile's start (its abuse's start, if it has one) to the webhook's arrival. */
  latency_s: number
  false_positive: boolean
}

/** One profile's figures. */
export interface ProfileReport {
  name: string
  description: string
  legitimacy: Profile['legitimacy']
  attempted: number
  accepted: number
  refused: Record<string, number>
  first_refusal: { after_s: number; after_messages: number; reason: string } | null
  auth: { attempts: number; failures: number; refused: number; successes: number } | null
  incidents: IncidentLine[]
  false_positives: { refused: number; incidents: number }
  intruder?: IntruderRecord
}

/** One target of the demo and whether this run met it. */
export interface Target {
  name: string
  met: boolean
  detail: string
}

/** The whole run, as `--json` prints it. */
export interface DemoReport {
  seed: number
  minutes: number
  relayed_to_sink: number
  profiles: ProfileReport[]
  /** Incidents for keys no single profile owns (a shared sender domain, a subnet of several). */
  other_incidents: IncidentLine[]
  targets: Target[]
  efficacy: string
}

const seconds = (ms: number) => Math.round(ms / 100) / 10

/** The profile an incident's client key belongs to, if exactly one. */
function ownerOf(key: string, profiles: readonly Profile[]): Profile | undefined {
  const [kind, value = ''] = [key.slice(0, key.indexOf(':')), key.slice(key.indexOf(':') + 1)]
  const found = profiles.filter((p) => {
    if (kind === 'address') return p.addresses.includes(value)
    if (kind === 'user') return p.users.includes(value)
    if (kind === 'sender_domain') return p.domains.includes(value)
    if (kind === 'subnet') {
      const net = new NetworkList([value])
      return p.addresses.some((a) => net.has(a))
    }
    return false
  })
  return found.length === 1 ? found[0] : undefined
}

/** Builds the report from the profiles' tallies and the incidents the receiver got. */
export function buildReport(o: { seed: number; minutes: number; relayed: number; profiles: readonly Profile[]; events: readonly ReceivedIncident[] }): DemoReport {
  // First event of each incident (its firing), in arrival order.
  const firsts = new Map<string, ReceivedIncident>()
  for (const e of o.events) if (!firsts.has(e.id)) firsts.set(e.id, e)
  const byProfile = new Map<string, IncidentLine[]>()
  const other: IncidentLine[] = []
  for (const e of firsts.values()) {
    const p = ownerOf(e.clientKey, o.profiles)
    const from = p ? (p.tally.abuseStartedMs ?? p.tally.startedMs ?? 0) : 0
    const innocent = p ? p.legitimacy === 'legitimate' || p.innocent.some((a) => e.clientKey === `address:${a}`) : false
    const line = { id: e.id, rule: e.rule, severity: e.severity, client_key: e.clientKey, also_firing: e.alsoFiring, latency_s: seconds(e.atMs - from), false_positive: innocent }
    if (p) byProfile.set(p.name, [...(byProfile.get(p.name) ?? []), line])
    else other.push(line)
  }
  const profiles = o.profiles.map((p): ProfileReport => {
    const t = p.tally
    const incidents = byProfile.get(p.name) ?? []
    return {
      name: p.name,
      description: p.description,
      legitimacy: p.legitimacy,
      attempted: t.attempted,
      accepted: t.accepted,
      refused: Object.fromEntries([...t.refused].sort((a, b) => b[1] - a[1])),
      first_refusal: t.firstRefusal ? { after_s: seconds(t.firstRefusal.afterMs), after_messages: t.firstRefusal.afterMessages, reason: t.firstRefusal.reason } : null,
      auth: t.auth.attempts ? { ...t.auth } : null,
      incidents,
      false_positives: { refused: t.legitimateRefused, incidents: incidents.filter((i) => i.false_positive).length },
      ...('intruder' in p ? { intruder: { ...(p as Profile & { intruder: IntruderRecord }).intruder } } : {}),
    }
  })
  const targets = targetsOf(profiles)
  return { seed: o.seed, minutes: o.minutes, relayed_to_sink: o.relayed, profiles, other_incidents: other, targets, efficacy: efficacyLine(targets) }
}

const find = (profiles: readonly ProfileReport[], name: string) => profiles.find((p) => p.name === name)
const firstIncident = (p: ProfileReport | undefined) => p?.incidents.filter((i) => !i.false_positive).sort((a, b) => a.latency_s - b.latency_s)[0]

/** The demo's targets, evaluated on this run. */
function targetsOf(profiles: readonly ProfileReport[]): Target[] {
  const bot = find(profiles, 'bot')
  const exchange = find(profiles, 'exchange')
  const cracked = find(profiles, 'cracked-account')
  const legit = profiles.filter((p) => p.legitimacy === 'legitimate')
  const botIncident = firstIncident(bot)
  const exchangeIncident = firstIncident(exchange)
  const crackedIncident = firstIncident(cracked)
  const intruder = cracked?.intruder
  const stopped = !!intruder && (intruder.spamAccepted === 0 || (intruder.firstStoppedMs !== null && (intruder.lastAcceptedMs ?? 0) <= intruder.firstStoppedMs))
  const legitRefused = legit.reduce((n, p) => n + p.false_positives.refused, 0)
  const legitIncidents = legit.reduce((n, p) => n + p.false_positives.incidents, 0)
  return [
    {
      name: 'bot refused within 30 s',
      met: !!bot?.first_refusal && bot.first_refusal.after_s <= 30,
      detail: bot?.first_refusal ? `after ${bot.first_refusal.after_s} s` : 'never refused',
    },
    { name: 'bot: at most 50 messages accepted', met: !!bot && bot.accepted <= 50, detail: `${bot?.accepted ?? 0} accepted` },
    { name: 'bot: incident within 60 s', met: !!botIncident && botIncident.latency_s <= 60, detail: botIncident ? `${botIncident.rule} after ${botIncident.latency_s} s` : 'none' },
    {
      name: 'backscattering Exchange flagged within 5 min',
      met: !!exchangeIncident && exchangeIncident.latency_s <= 300,
      detail: exchangeIncident ? `${[exchangeIncident.rule, ...exchangeIncident.also_firing].join('+')} after ${exchangeIncident.latency_s} s` : 'not flagged',
    },
    {
      name: 'cracked account stopped after at most 20 failed AUTH, and alerted',
      met: !!cracked?.auth && cracked.auth.failures <= 20 && stopped && !!crackedIncident,
      detail: `${cracked?.auth?.failures ?? 0} failed AUTH, ${cracked?.auth?.refused ?? 0} AUTH refused; intruder ${intruder?.logins ?? 0} logins, ${intruder?.spamAccepted ?? 0} spam accepted${stopped ? ', stopped' : ', not stopped'}; ${crackedIncident ? `${crackedIncident.rule} after ${crackedIncident.latency_s} s` : 'no incident'}`,
    },
    {
      name: 'the owner keeps sending from the usual address',
      met: !!cracked && cracked.false_positives.refused === 0 && cracked.false_positives.incidents === 0,
      detail: `${cracked?.false_positives.refused ?? 0} of the owner's messages refused`,
    },
    {
      name: 'home users, office, newsletter: 0 refused, 0 incidents',
      met: legitRefused === 0 && legitIncidents === 0,
      detail: `${legitRefused} of ${legit.reduce((n, p) => n + p.attempted, 0)} refused, ${legitIncidents} incidents`,
    },
  ]
}

function efficacyLine(targets: readonly Target[]): string {
  const met = targets.filter((t) => t.met).length
  const [refused, accepted, alerted, exchange, cracked, owner, legitimate] = targets.map((t) => t.detail)
  return `efficacy: ${met}/${targets.length} targets met; bot refused ${refused}, ${accepted}, incident ${alerted}; Exchange ${exchange}; cracked account: ${cracked}; owner: ${owner}; home users, office, newsletter: ${legitimate}`
}

/** The report as text for the terminal. */
export function renderReport(r: DemoReport): string {
  const out: string[] = [`smarthost-guard demo: seed ${r.seed}, ${r.minutes} min, ${r.relayed_to_sink} messages relayed to the sink`, '']
  for (const p of r.profiles) {
    const refused = Object.values(p.refused).reduce((a, b) => a + b, 0)
    out.push(`${p.name} (${p.legitimacy}): ${p.description}`)
    out.push(`  messages: ${p.attempted} attempted, ${p.accepted} accepted, ${p.attempted - p.accepted} refused`)
    if (p.auth) out.push(`  AUTH: ${p.auth.attempts} attempts, ${p.auth.successes} logged in, ${p.auth.failures} wrong password, ${p.auth.refused} refused`)
    if (p.intruder) {
      const i = p.intruder
      out.push(`  intruder: ${i.logins} logins, ${i.loginsRefused} refused; spam ${i.spamAccepted} accepted, ${i.spamRefused} refused`)
    }
    if (refused) {
      out.push('  refusals by reason:')
      for (const [reason, n] of Object.entries(p.refused)) out.push(`    ${String(n).padStart(5)}  ${reason}`)
    }
    out.push(
      p.first_refusal
        ? `  first refusal: after ${p.first_refusal.after_s} s, message ${p.first_refusal.after_messages} (${p.first_refusal.reason})`
        : '  first refusal: none',
    )
    if (p.incidents.length === 0) out.push('  incidents: none')
    for (const i of p.incidents) {
      const also = i.also_firing.length ? `, also ${i.also_firing.join(', ')}` : ''
      out.push(`  incident: ${i.rule} (${i.severity}${also}) for ${i.client_key} after ${i.latency_s} s${i.false_positive ? '  << false positive' : ''}`)
    }
    out.push(`  false positives: ${p.false_positives.refused} legitimate messages refused, ${p.false_positives.incidents} incidents`, '')
  }
  for (const i of r.other_incidents) out.push(`other incident: ${i.rule} (${i.severity}) for ${i.client_key}`)
  out.push('targets:')
  for (const t of r.targets) out.push(`  [${t.met ? 'met ' : 'MISS'}] ${t.name}: ${t.detail}`)
  out.push('', r.efficacy)
  return `${out.join('\n')}\n`
}
