import { detailsEvidence } from './evidence.js'
import type { Finding } from './incident.js'
import type { AlertRule } from './schema.js'
import { growingLru } from '../lru.js'

/** One AUTH attempt as the relay's session events report it. */
export interface AuthAttempt {
  user: string
  address: string
  ok: boolean
  at: number
  /**
   * For a success: whether the relay's known logins (auth.failures) knew the address; absent
   * when the relay did not look, and then the addresses this trail saw decide.
   */
  known?: boolean
}

type AuthRule = Extract<AlertRule, { kind: 'auth_burst' | 'auth_cracked' }>
type SendingRule = Extract<AlertRule, { kind: 'auth_cracked_sending' }>

interface Login {
  at: number
  address: string
}

interface Trail {
  failures: Login[]
  /** Successful logins from new addresses not yet judged by the cracked rule. */
  fresh: Login[]
  /** Judged logins from new addresses, watched for volume until the longest `watch` has passed. */
  watched: Login[]
  /** Addresses the account logged in from before (the newest last). */
  known: Map<string, number>
}

/** A new address that logged in after failures, for `auth_cracked_sending` to weigh its volume. */
export interface Suspect {
  rule: SendingRule
  user: string
  /** The class of the account, whose rules these are. */
  clientClass: string
  login: Login
  /** The failures within the rule's window before the login. */
  failures: Login[]
  /** Addresses the account logged in from before, the newest last. */
  known: string[]
}

const FAILURES_KEPT = 500
const KNOWN_KEPT = 32
const USERS_KEPT = 20_000

/**
 * AUTH attempts per account, bounded (least recently seen accounts go first; at most
 * FAILURES_KEPT failures and KNOWN_KEPT known addresses each): what the AUTH rules read.
 * A success from an address the account used before is not news; one from a new address after
 * a run of failures is the cracked-account pattern.
 */
export class AuthTrail {
  readonly #users = growingLru<string, Trail>(USERS_KEPT)

  record(a: AuthAttempt): void {
    let t = this.#users.get(a.user)
    if (!t) this.#users.set(a.user, (t = { failures: [], fresh: [], watched: [], known: new Map() }))
    if (!a.ok) {
      t.failures.push({ at: a.at, address: a.address })
      if (t.failures.length > FAILURES_KEPT) t.failures.shift()
    } else if (a.known ?? t.known.has(a.address)) {
      t.known.delete(a.address)
      t.known.set(a.address, a.at)
    } else {
      t.fresh.push({ at: a.at, address: a.address })
    }
  }

  /** What the AUTH rules find now. `rulesOf(user)` gives the rules of the account's class. */
  evaluate(rulesOf: (key: string) => { rules: readonly AlertRule[]; clientClass: string }, now: number): Finding[] {
    const findings: Finding[] = []
    for (const [user, t] of this.#users.entries()) {
      const key = `user:${user}`
      const { rules, clientClass } = rulesOf(key)
      const authRules = rules.filter((r): r is AuthRule => r.kind === 'auth_burst' || r.kind === 'auth_cracked')
      const watch = Math.max(0, ...rules.map((r) => (r.kind === 'auth_cracked_sending' ? r.watch : 0)))
      // Failures stay as long as a rule reads them: before a watched login too.
      const longest = Math.max(0, ...authRules.map((r) => r.window), ...rules.map((r) => (r.kind === 'auth_cracked_sending' ? r.window + r.watch : 0)))
      while (t.failures.length && t.failures[0]!.at < now - longest) t.failures.shift()
      t.watched = t.watched.filter((w) => w.at >= now - watch)
      for (const rule of authRules) {
        const f = rule.kind === 'auth_burst' ? burst(rule, user, t, now) : cracked(rule, user, t)
        if (f) findings.push({ ...f, rule, key, clientClass })
      }
      // Judged: a fresh login becomes a known address, and is watched for what it sends.
      if (watch > 0) t.watched.push(...t.fresh.slice(-KNOWN_KEPT))
      for (const s of t.fresh) {
        t.known.set(s.address, s.at)
        if (t.known.size > KNOWN_KEPT) t.known.delete(t.known.keys().next().value!)
      }
      t.fresh = []
    }
    return findings
  }

  /**
   * The watched logins that followed enough failures for an `auth_cracked_sending` rule of the
   * account's class, within its `watch`: whether they fire depends on their volume. Read after
   * `evaluate`, which moves new logins here.
   */
  suspects(rulesOf: (key: string) => { rules: readonly AlertRule[]; clientClass: string }, now: number): Suspect[] {
    const out: Suspect[] = []
    for (const [user, t] of this.#users.entries()) {
      if (!t.watched.length) continue
      const { rules, clientClass } = rulesOf(`user:${user}`)
      for (const rule of rules) {
        if (rule.kind !== 'auth_cracked_sending') continue
        const seen = new Set<string>()
        for (const login of t.watched) {
          if (login.at < now - rule.watch || seen.has(login.address)) continue
          const failures = t.failures.filter((f) => f.at <= login.at && f.at >= login.at - rule.window)
          if (failures.length < rule.failures) continue
          seen.add(login.address)
          out.push({ rule, user, clientClass, login, failures, known: [...t.known.keys()].filter((k) => k !== login.address).slice(-10) })
        }
      }
    }
    return out
  }
}

type Found = Omit<Finding, 'rule' | 'key' | 'clientClass'>

function burst(rule: Extract<AuthRule, { kind: 'auth_burst' }>, user: string, t: Trail, now: number): Found | null {
  const recent = t.failures.filter((f) => f.at >= now - rule.window)
  if (recent.length < rule.above) return null
  const addresses = countBy(recent.map((f) => f.address))
  return {
    window: `${rule.window / 1000}s`,
    observed: recent.length,
    baseline: null,
    threshold: rule.above,
    summary: `${recent.length} AUTH failures for ${user} from ${addresses.length} addresses in ${rule.window / 1000}s`,
    evidence: detailsEvidence({ user, failures: recent.length, addresses: addresses.slice(0, 10) }),
  }
}

function cracked(rule: Extract<AuthRule, { kind: 'auth_cracked' }>, user: string, t: Trail): Found | null {
  for (const s of t.fresh) {
    const before = t.failures.filter((f) => f.at <= s.at && f.at >= s.at - rule.window)
    if (before.length < rule.failures) continue
    return {
      window: `${rule.window / 1000}s`,
      observed: before.length,
      baseline: null,
      threshold: rule.failures,
      summary: `${user} logged in from new address ${s.address} after ${before.length} AUTH failures`,
      evidence: detailsEvidence({
        user,
        success_from: s.address,
        success_at: new Date(s.at).toISOString(),
        failures: before.length,
        failure_addresses: countBy(before.map((f) => f.address)).slice(0, 10),
        known_addresses: [...t.known.keys()].slice(-10),
      }),
    }
  }
  return null
}

function countBy(values: string[]): { address: string; count: number }[] {
  const m = new Map<string, number>()
  for (const v of values) m.set(v, (m.get(v) ?? 0) + 1)
  return [...m].sort((a, b) => b[1] - a[1]).map(([address, count]) => ({ address, count }))
}
