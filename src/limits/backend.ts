import { RateLimiterRedis } from 'rate-limiter-flexible'
import type { RateLimiterAbstract } from 'rate-limiter-flexible'
import type { Logger } from 'pino'
import { limitStateFailuresFor } from '../metrics/limit-metrics.js'
import { MemoryKnownLogins, RedisKnownLogins } from './known-logins.js'
import type { KnownLogins } from './known-logins.js'
import { counterCache, RateLimiterLru } from './lru-limiter.js'
import type { CounterCache } from './lru-limiter.js'
import { MemoryPenaltyStore, RedisPenaltyStore } from './penalty-store.js'
import type { PenaltyStore } from './penalty-store.js'
import { RedisBreaker } from './redis-breaker.js'
import { connectRedis, whenReady } from './redis-client.js'
import type { RedisClient } from './redis-client.js'
import type { StateConfig } from './schema.js'

/** What a limiter counts, and for whom (metrics and key names). */
export interface LimiterOptions {
  readonly instance: string
  readonly check: string
  /** Key prefix after the instance: `rl:<check>:<dimension>`. */
  readonly prefix: string
  readonly points: number
  readonly windowMs: number
}

/**
 * The one interface of the shared state, with two backends: memory (one process, bounded) and
 * Redis (every node sharing it, kept across restarts). Limiters are rate-limiter-flexible
 * limiters; their keys are `<instance>:rl:<check>:<dimension>:<value>` (after Redis's
 * key_prefix).
 */
export interface StateBackend {
  readonly kind: 'memory' | 'redis'
  /** Redis down: `tempfail` makes limiters throw; `fail-open` answers from per-node memory. */
  readonly onFailure: 'fail-open' | 'tempfail'
  limiter(opts: LimiterOptions): RateLimiterAbstract
  /** The penalty box store of an instance (one per instance, kept across reloads). */
  penaltyStore(instance: string, maxEntries: number): PenaltyStore
  /** The addresses each user of an instance logged in from (one per instance, kept across reloads). */
  knownLogins(instance: string): KnownLogins
  close(): Promise<void>
}

const seconds = (ms: number) => Math.round(ms / 1000)

/** Users whose known logins the memory backend keeps per instance (the least recently seen go first). */
const KNOWN_LOGIN_USERS = 100_000

/** The store methods of RateLimiterRedis (not in its typings), to call them through the breaker. */
interface RedisStore {
  _upsert(rlKey: string, points: number, msDuration: number, forceExpire?: boolean): Promise<unknown>
  _get(rlKey: string): Promise<unknown>
  _delete(rlKey: string): Promise<boolean>
}
const redisStore = RateLimiterRedis.prototype as unknown as RedisStore

/**
 * RateLimiterRedis whose store calls go through the breaker: while it is open they fail at
 * once, and the library hands the operation to the insurance limiter (fail-open) or rejects.
 */
class GuardedRedisLimiter extends RateLimiterRedis {
  readonly #breaker: RedisBreaker

  constructor(opts: ConstructorParameters<typeof RateLimiterRedis>[0], breaker: RedisBreaker) {
    super(opts)
    this.#breaker = breaker
  }

  _upsert(rlKey: string, points: number, msDuration: number, forceExpire = false): Promise<unknown> {
    return this.#breaker.run('a limit', () => redisStore._upsert.call(this, rlKey, points, msDuration, forceExpire))
  }

  _get(rlKey: string): Promise<unknown> {
    return this.#breaker.run('a limit', () => redisStore._get.call(this, rlKey))
  }

  _delete(rlKey: string): Promise<boolean> {
    return this.#breaker.run('a limit', () => redisStore._delete.call(this, rlKey))
  }
}

/** The in-process backend: counters in one LRU-bounded cache for the whole process. */
export class MemoryBackend implements StateBackend {
  readonly kind = 'memory'
  readonly onFailure = 'fail-open'
  readonly cache: CounterCache
  readonly #boxes = new Map<string, MemoryPenaltyStore>()
  readonly #logins = new Map<string, MemoryKnownLogins>()

  constructor(maxEntries: number) {
    this.cache = counterCache(maxEntries)
  }

  limiter(opts: LimiterOptions): RateLimiterAbstract {
    return new RateLimiterLru({
      storeClient: this.cache,
      keyPrefix: `${opts.instance}:${opts.prefix}`,
      points: opts.points,
      duration: seconds(opts.windowMs),
    })
  }

  penaltyStore(instance: string, maxEntries: number): PenaltyStore {
    let box = this.#boxes.get(instance)
    if (!box) this.#boxes.set(instance, (box = new MemoryPenaltyStore(maxEntries)))
    return box
  }

  knownLogins(instance: string): KnownLogins {
    let logins = this.#logins.get(instance)
    if (!logins) this.#logins.set(instance, (logins = new MemoryKnownLogins(KNOWN_LOGIN_USERS)))
    return logins
  }

  close(): Promise<void> {
    return Promise.resolve()
  }
}

/**
 * The Redis backend: RateLimiterRedis on one ioredis client (standalone, Sentinel or
 * Cluster). With `fail-open`, each limiter has an insurance limiter on a per-node memory
 * cache, and every operation it serves is counted in smarthost_limit_state_failures_total.
 * Every operation goes through one circuit breaker, so a stalled Redis costs a few command
 * timeouts, not one per operation.
 */
export class RedisBackend implements StateBackend {
  readonly kind = 'redis'
  readonly onFailure: 'fail-open' | 'tempfail'
  readonly client: RedisClient
  readonly breaker: RedisBreaker
  readonly #insurance: CounterCache
  readonly #boxes = new Map<string, RedisPenaltyStore>()
  readonly #logins = new Map<string, RedisKnownLogins>()

  private constructor(client: RedisClient, onFailure: 'fail-open' | 'tempfail', maxEntries: number, breaker: RedisBreaker) {
    this.client = client
    this.breaker = breaker
    this.onFailure = onFailure
    this.#insurance = counterCache(maxEntries)
  }

  /** Connects and waits up to connect_timeout for Redis; the relay starts either way. */
  static async connect(config: StateConfig, password: string | undefined, log: Logger): Promise<RedisBackend> {
    const redis = config.redis
    if (!redis) throw new Error('backend redis needs a redis section')
    const client = connectRedis(redis, password, log)
    // Probe a stalled Redis about twice per command timeout: back within a second of answering.
    const breaker = new RedisBreaker(client, { probeMs: Math.max(100, Math.min(1000, redis.command_timeout)), log })
    const backend = new RedisBackend(client, redis.on_failure, config.memory.max_entries, breaker)
    if (!(await whenReady(client, redis.connect_timeout))) {
      log.warn({ code: 'RELAY_ERR_STATE_UNAVAILABLE', on_failure: redis.on_failure }, 'Redis is not reachable yet; limits follow state.redis.on_failure until it is')
    }
    return backend
  }

  limiter(opts: LimiterOptions): RateLimiterAbstract {
    const keyPrefix = `${opts.instance}:${opts.prefix}`
    const duration = seconds(opts.windowMs)
    const failOpen = limitStateFailuresFor(opts.instance, opts.check, 'fail-open')
    const insuranceLimiter =
      this.onFailure === 'fail-open'
        ? new RateLimiterLru({ storeClient: this.#insurance, keyPrefix, points: opts.points, duration, onUse: () => failOpen.inc() })
        : undefined
    return new GuardedRedisLimiter(
      {
        storeClient: this.client,
        keyPrefix,
        points: opts.points,
        duration,
        rejectIfRedisNotReady: true,
        ...(insuranceLimiter ? { insuranceLimiter } : {}),
      },
      this.breaker,
    )
  }

  penaltyStore(instance: string): PenaltyStore {
    let box = this.#boxes.get(instance)
    if (!box) this.#boxes.set(instance, (box = new RedisPenaltyStore(this.client, instance, this.breaker)))
    return box
  }

  knownLogins(instance: string): KnownLogins {
    let logins = this.#logins.get(instance)
    if (!logins) this.#logins.set(instance, (logins = new RedisKnownLogins(this.client, instance, this.breaker)))
    return logins
  }

  close(): Promise<void> {
    this.breaker.close()
    this.client.disconnect()
    return Promise.resolve()
  }
}
