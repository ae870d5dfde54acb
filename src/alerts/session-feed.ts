import { subnetOf } from '../limits/dimensions.js'
import type { SessionRecord } from '../pipeline/record.js'
import { AUTH_NEW_ADDRESS } from '../checks/auth-failures.js'
import type { AuthAttempt } from './auth-trail.js'
import { growingLru } from '../lru.js'

/**
 * What the alerting reads of one session outcome: the fields of the relay's session events
 * (stage `auth` with outcome `authenticated` or `rejected` and the user name the client gave).
 */
export interface SessionOutcome {
  time: number
  stage: string
  outcome: string
  user: string | null
  /** The reply of a refusal (its reason token tells a wrong password from a lockout or a fault). */
  reply?: { reason: string } | null
  session: Pick<SessionRecord, 'client' | 'clientClass' | 'user'> & Partial<Pick<SessionRecord, 'checks'>>
}

/**
 * Temporary AUTH refusals that are failed attempts too: the wrong password that ends the session
 * (smtp.auth_failure_limit), and attempts during a lockout (auth.failures), so a guessing run
 * that goes on against a locked account is still seen as one.
 */
const GUESS_REFUSALS = new Set(['auth-session-limit', 'auth-locked'])

/** The AUTH attempt a session outcome reports, if it is one. */
export function authAttemptOf(e: SessionOutcome): AuthAttempt | null {
  if (e.stage !== 'auth') return null
  if (e.outcome !== 'authenticated' && e.outcome !== 'rejected' && !(e.outcome === 'tempfailed' && GUESS_REFUSALS.has(e.reply?.reason ?? ''))) return null
  // A success names its user on the session (the relay's event carries no name of its own then).
  const user = e.user || (e.outcome === 'authenticated' ? e.session.user : null)
  if (!user) return null
  const ok = e.outcome === 'authenticated'
  const known = ok ? knownLogin(e.session.checks) : undefined
  return { user, address: e.session.client.address, ok, at: e.time, ...(known !== undefined ? { known } : {}) }
}

/**
 * Whether auth.failures found the login's address among the account's known logins: it tags a
 * new one AUTH_NEW_ADDRESS and lets a known one pass. Undefined when it did not run.
 */
function knownLogin(checks: SessionRecord['checks'] | undefined): boolean | undefined {
  const last = checks?.findLast((c) => c.check === 'auth.failures' && c.stage === 'auth')
  if (last?.outcome === 'tag') return !last.flags?.includes(AUTH_NEW_ADDRESS)
  return last?.outcome === 'continue' ? true : undefined
}

const KEYS_KEPT = 50_000

/**
 * The policy class last seen for each client key (address, subnet, user), learned from the
 * sessions, so a rule set per class applies to the statistics' client keys. Bounded (LRU).
 */
export class ClientClasses {
  readonly #byKey = growingLru<string, string>(KEYS_KEPT)

  record(session: SessionOutcome['session']): void {
    const c = session.clientClass
    if (!c || c === 'unknown') return
    this.#byKey.set(`address:${session.client.address}`, c)
    const subnet = subnetOf(session.client.address)
    if (subnet) this.#byKey.set(`subnet:${subnet}`, c)
    if (session.user) this.#byKey.set(`user:${session.user}`, c)
  }

  /** The class of a client key; `default` when never seen. */
  classOf(key: string): string {
    return this.known(key) ?? 'default'
  }

  /** The class a session of this client key had, if this process saw one. */
  known(key: string): string | undefined {
    return this.#byKey.get(key)
  }
}
