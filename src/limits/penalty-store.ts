import type { LRUCache } from 'lru-cache'
import { timedRedis } from '../metrics/limit-metrics.js'
import { oneLine } from './one-line.js'
import type { RedisBreaker } from './redis-breaker.js'
import type { RedisClient } from './redis-client.js'
import type { PenaltyScope } from './schema.js'
import { growingLru } from '../lru.js'

/** One client in the penalty box: who put it there, why, when, and until when (ms epoch). */
export interface PenaltyEntry {
  scope: PenaltyScope
  /** An address, a /24 or /64 subnet ("192.0.2.0/24"), or a user name. */
  value: string
  who: string
  why: string
  when: number
  until: number
}

/** Where a penalty box keeps its entries; expired entries are never returned. */
export interface PenaltyStore {
  put(entry: PenaltyEntry): Promise<void>
  /** The first active entry among `keys` ("scope:value"), in the order given. */
  find(keys: readonly string[]): Promise<PenaltyEntry | null>
  remove(key: string): Promise<boolean>
  list(): Promise<PenaltyEntry[]>
  /** How many entries are active, without reading them (the metric asks on every scrape). */
  size(): Promise<number>
}

/** "address:192.0.2.7", "subnet:192.0.2.0/24", "user:alice". */
export const entryKey = (scope: PenaltyScope, value: string) => `${scope}:${value}`

/** The memory store: an LRU of at most `maxEntries` entries, each expiring at its `until`. */
export class MemoryPenaltyStore implements PenaltyStore {
  readonly #cache: LRUCache<string, PenaltyEntry>

  constructor(maxEntries: number) {
    this.#cache = growingLru<string, PenaltyEntry>(maxEntries, { ttl: 1, ttlAutopurge: false })
  }

  put(entry: PenaltyEntry): Promise<void> {
    const ttl = entry.until - Date.now()
    if (ttl > 0) this.#cache.set(entryKey(entry.scope, entry.value), entry, { ttl })
    return Promise.resolve()
  }

  find(keys: readonly string[]): Promise<PenaltyEntry | null> {
    for (const key of keys) {
      const entry = this.#cache.get(key)
      if (entry) return Promise.resolve(entry)
    }
    return Promise.resolve(null)
  }

  remove(key: string): Promise<boolean> {
    return Promise.resolve(this.#cache.delete(key))
  }

  list(): Promise<PenaltyEntry[]> {
    this.#cache.purgeStale()
    return Promise.resolve([...this.#cache.values()])
  }

  size(): Promise<number> {
    this.#cache.purgeStale()
    return Promise.resolve(this.#cache.size)
  }
}

/**
 * The Redis store: each entry a key that expires at its `until`, plus an index of the entry
 * keys scored by `until`, so expired members are dropped (and the rest counted) without
 * reading any entry. All keys of an instance share the hash tag {pb:<instance>}, so MULTI,
 * MGET and the index work on Redis Cluster too (one slot).
 */
export class RedisPenaltyStore implements PenaltyStore {
  readonly #client: RedisClient
  readonly #tag: string
  readonly #breaker: RedisBreaker

  constructor(client: RedisClient, instance: string, breaker: RedisBreaker) {
    this.#client = client
    this.#tag = `{pb:${instance}}`
    this.#breaker = breaker
  }

  /** An operation on Redis, timed, and refused at once while the breaker is open. */
  #timed<T>(op: () => Promise<T>): Promise<T> {
    return this.#breaker.run('the penalty box', () => timedRedis('penalty_box', op))
  }

  #key(key: string): string {
    return `${this.#tag}:${key}`
  }

  // Not `:index`, the plain set an earlier version kept: a key of another type would fail every put.
  get #index(): string {
    return `${this.#tag}:until`
  }

  async put(entry: PenaltyEntry): Promise<void> {
    const ttl = Math.ceil(entry.until - Date.now())
    if (ttl <= 0) return
    const key = entryKey(entry.scope, entry.value)
    await this.#timed(() => this.#client.multi().set(this.#key(key), JSON.stringify(entry), 'PX', ttl).zadd(this.#index, entry.until, key).exec())
  }

  async find(keys: readonly string[]): Promise<PenaltyEntry | null> {
    const values = await this.#timed(() => this.#client.mget(...keys.map((k) => this.#key(k))))
    for (const v of values) {
      const entry = v ? parseEntry(v) : null
      if (entry && entry.until > Date.now()) return entry
    }
    return null
  }

  async remove(key: string): Promise<boolean> {
    const result = await this.#timed(() => this.#client.multi().del(this.#key(key)).zrem(this.#index, key).exec())
    return Number(result?.[0]?.[1] ?? 0) > 0
  }

  async list(): Promise<PenaltyEntry[]> {
    const [, keys] = await this.#timed(() => Promise.all([this.#dropExpired(), this.#client.zrange(this.#index, 0, '-1')]))
    if (!keys.length) return []
    const values = await this.#timed(() => this.#client.mget(...keys.map((k) => this.#key(k))))
    return values.flatMap((v) => {
      const entry = v ? parseEntry(v) : null
      return entry ? [entry] : []
    })
  }

  async size(): Promise<number> {
    const [, size] = await this.#timed(() => Promise.all([this.#dropExpired(), this.#client.zcard(this.#index)]))
    return size
  }

  /**
   * Drops index members whose `until` has passed (their entries expired by themselves). Sent in
   * the same tick as the read that follows it: one pipeline, served in order on one connection.
   */
  #dropExpired(): Promise<number> {
    return this.#client.zremrangebyscore(this.#index, '-inf', Date.now())
  }
}

/** Latest time a Date can hold (ECMA-262 21.4.1.1): beyond it every reply with the entry would fail. */
const MAX_TIME = 8.64e15

/** An entry read back from Redis; one written by hand or by an older version gets the same bounds as a new one. */
function parseEntry(text: string): PenaltyEntry | null {
  try {
    const e = JSON.parse(text) as PenaltyEntry
    if (typeof e.value !== 'string' || typeof e.until !== 'number' || !(Math.abs(e.until) <= MAX_TIME)) return null
    const when = typeof e.when === 'number' && Math.abs(e.when) <= MAX_TIME ? e.when : e.until
    return { ...e, when, value: oneLine(e.value), who: oneLine(String(e.who)), why: oneLine(String(e.why)) }
  } catch {
    return null
  }
}
