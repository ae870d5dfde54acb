import { createRequire } from 'node:module'
import type { LRUCache } from 'lru-cache'
import { RateLimiterRes } from 'rate-limiter-flexible'
import type { RateLimiterStoreAbstract as StoreAbstract } from 'rate-limiter-flexible'
import { growingLru } from '../lru.js'

// The base class of the library's store limiters (Redis, Mongo…) is typed but not exported by
// its index; a store of our own extends it as those do.
export const RateLimiterStoreAbstract = createRequire(import.meta.url)(
  'rate-limiter-flexible/lib/RateLimiterStoreAbstract.js',
) as typeof StoreAbstract

/** One counter: points used in the window and when the window ends (ms epoch; 0 = never). */
interface Counter {
  value: number
  expiresAt: number
}

/** The bounded in-process store shared by every memory limiter of the process. */
export type CounterCache = LRUCache<string, Counter>

/**
 * A store of at most `maxEntries` counters; the least recently used go first. Unlike
 * RateLimiterMemory (a Map with a timer per key), its size does not grow with the number of
 * distinct clients, so a flood of addresses cannot exhaust memory (at the price of forgetting
 * the quietest clients' counters first).
 */
export function counterCache(maxEntries: number): CounterCache {
  return growingLru<string, Counter>(maxEntries)
}

/** Raw result of an upsert or a get, turned into a RateLimiterRes by _getRateLimiterRes. */
export interface Upserted {
  consumed: number
  msBeforeNext: number
}

/** Adds `points` to a counter of `cache` (a new window when it ran out): the store operation of every memory limiter. */
export function upsertCounter(cache: CounterCache, rlKey: string, points: number, msDuration: number, forceExpire = false): Upserted {
  const now = Date.now()
  let counter = cache.get(rlKey)
  if (forceExpire || !counter || (counter.expiresAt !== 0 && counter.expiresAt <= now)) {
    counter = { value: forceExpire ? points : 0, expiresAt: msDuration > 0 ? now + msDuration : 0 }
    cache.set(rlKey, counter)
    if (forceExpire) return { consumed: points, msBeforeNext: msDuration > 0 ? msDuration : -1 }
  }
  counter.value += points
  return { consumed: counter.value, msBeforeNext: counter.expiresAt ? counter.expiresAt - now : -1 }
}

/** A counter of `cache` as it stands, or null when there is none in a running window. */
export function readCounter(cache: CounterCache, rlKey: string): Upserted | null {
  const counter = cache.get(rlKey)
  const now = Date.now()
  if (!counter || (counter.expiresAt !== 0 && counter.expiresAt <= now)) return null
  return { consumed: counter.value, msBeforeNext: counter.expiresAt ? counter.expiresAt - now : -1 }
}

/** The RateLimiterRes of a store result, as the library's own stores build it. */
export function limiterRes(points: number, changedPoints: number, result: Upserted): RateLimiterRes {
  return new RateLimiterRes(Math.max(points - result.consumed, 0), result.msBeforeNext, result.consumed, result.consumed === changedPoints)
}

/**
 * A rate-limiter-flexible store limiter over a CounterCache: the same fixed-window semantics
 * (points, duration, block, insurance) as the library's other stores. `onUse` runs on every
 * operation; the Redis backend uses it to count fail-open decisions of its insurance limiter.
 */
export class RateLimiterLru extends RateLimiterStoreAbstract {
  readonly #cache: CounterCache
  readonly #onUse: (() => void) | undefined

  constructor(opts: ConstructorParameters<typeof StoreAbstract>[0] & { storeClient: CounterCache; onUse?: () => void }) {
    super(opts)
    this.#cache = opts.storeClient as CounterCache
    this.#onUse = opts.onUse
  }

  _upsert(rlKey: string, points: number, msDuration: number, forceExpire = false): Promise<Upserted> {
    this.#onUse?.()
    return Promise.resolve(upsertCounter(this.#cache, rlKey, points, msDuration, forceExpire))
  }

  _get(rlKey: string): Promise<Upserted | null> {
    this.#onUse?.()
    return Promise.resolve(readCounter(this.#cache, rlKey))
  }

  _delete(rlKey: string): Promise<boolean> {
    return Promise.resolve(this.#cache.delete(rlKey))
  }

  _getRateLimiterRes(_rlKey: string, changedPoints: number, result: Upserted): RateLimiterRes {
    return limiterRes(this.points, changedPoints, result)
  }
}
