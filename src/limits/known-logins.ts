import type { LRUCache } from 'lru-cache'
import { timedRedis } from '../metrics/limit-metrics.js'
import { canonicalAddress, subnetOf } from './dimensions.js'
import type { RedisBreaker } from './redis-breaker.js'
import type { RedisClient } from './redis-client.js'
import { growingLru } from '../lru.js'

/** How long a login is remembered, and how many addresses (and as many networks) per user at most. */
export interface KnownLoginBounds {
  readonly rememberMs: number
  readonly perUser: number
}

/** Whether a user logged in from this address, or from its /24 (/64) network, within the remembered time. */
export interface KnownLogin {
  readonly address: boolean
  readonly network: boolean
}

/**
 * Per user, the addresses and /24 (/64) networks it logged in from successfully: what tells the
 * account's owner from a password guesser while the account is under attack. Bounded per user
 * (the least recently used go first) and in time (`rememberMs` after the last login).
 */
export interface KnownLogins {
  /** A successful login of `user` from `address`. */
  record(user: string, address: string, bounds: KnownLoginBounds): Promise<void>
  lookup(user: string, address: string, bounds: KnownLoginBounds): Promise<KnownLogin>
}

/** The members kept for a login: the address and its network. */
function members(address: string): { address: string; network: string | null } {
  const a = canonicalAddress(address) ?? address
  const net = subnetOf(a)
  return { address: `a:${a}`, network: net ? `n:${net}` : null }
}

/** The memory store: an LRU of users, each a map of member to its last login (oldest first). */
export class MemoryKnownLogins implements KnownLogins {
  readonly #users: LRUCache<string, Map<string, number>>

  constructor(maxUsers: number) {
    this.#users = growingLru(maxUsers)
  }

  record(user: string, address: string, bounds: KnownLoginBounds): Promise<void> {
    const now = Date.now()
    let seen = this.#users.get(user)
    if (!seen) this.#users.set(user, (seen = new Map()))
    const m = members(address)
    for (const key of [m.address, m.network]) {
      if (!key) continue
      // Re-inserted, so the map stays in order of last login and the oldest go first.
      seen.delete(key)
      seen.set(key, now)
    }
    for (const [key, at] of seen) if (at < now - bounds.rememberMs || seen.size > 2 * bounds.perUser) seen.delete(key)
    return Promise.resolve()
  }

  lookup(user: string, address: string, bounds: KnownLoginBounds): Promise<KnownLogin> {
    const seen = this.#users.get(user)
    const since = Date.now() - bounds.rememberMs
    const m = members(address)
    const known = (key: string | null) => key !== null && (seen?.get(key) ?? -Infinity) >= since
    return Promise.resolve({ address: known(m.address), network: known(m.network) })
  }
}

/**
 * The Redis store, shared by every node: one sorted set per user (`<instance>:kl:<user>`,
 * after the key prefix) of members scored by their last login, trimmed to `perUser` addresses
 * and networks and expiring `rememberMs` after the last login.
 */
export class RedisKnownLogins implements KnownLogins {
  readonly #client: RedisClient
  readonly #instance: string
  readonly #breaker: RedisBreaker

  constructor(client: RedisClient, instance: string, breaker: RedisBreaker) {
    this.#client = client
    this.#instance = instance
    this.#breaker = breaker
  }

  #key(user: string): string {
    return `${this.#instance}:kl:${user}`
  }

  async record(user: string, address: string, bounds: KnownLoginBounds): Promise<void> {
    const now = Date.now()
    const m = members(address)
    const key = this.#key(user)
    await this.#timed(() =>
      this.#client
        .multi()
        .zadd(key, now, m.address, ...(m.network ? [now, m.network] : []))
        .zremrangebyscore(key, '-inf', now - bounds.rememberMs)
        .zremrangebyrank(key, 0, -(2 * bounds.perUser) - 1)
        .pexpire(key, bounds.rememberMs)
        .exec(),
    )
  }

  async lookup(user: string, address: string, bounds: KnownLoginBounds): Promise<KnownLogin> {
    const m = members(address)
    const key = this.#key(user)
    const result = await this.#timed(() => this.#client.multi().zscore(key, m.address).zscore(key, m.network ?? 'n:').exec())
    const since = Date.now() - bounds.rememberMs
    const known = (i: number) => {
      const score = result?.[i]?.[1]
      return typeof score === 'string' && Number(score) >= since
    }
    return { address: known(0), network: m.network !== null && known(1) }
  }

  /** An operation on Redis, timed, and refused at once while the breaker is open. */
  #timed<T>(op: () => Promise<T>): Promise<T> {
    return this.#breaker.run('the known logins', () => timedRedis('known_logins', op))
  }
}
