import { BurstyRateLimiter, RateLimiterRes } from 'rate-limiter-flexible'
import type { RateLimiterAbstract } from 'rate-limiter-flexible'
import { RelayError } from '../errors/relay-error.js'
import { limitStateFailuresFor, timedRedis } from '../metrics/limit-metrics.js'
import type { StateBackend } from './backend.js'
import type { RateSpec } from './rate-spec.js'

/** What consuming from a limit found: within it, or over it with the time until it frees up. */
export type LimitResult =
  | { readonly over: false; readonly consumed: number }
  | { readonly over: true; readonly consumed: number; readonly retryMs: number }

/** Where a limit belongs: its check and dimension, for keys and metrics. */
export interface LimitScope {
  readonly instance: string
  readonly check: string
  readonly dimension: string
}

/**
 * One rate limit (a RateSpec) of one check and dimension, on the state backend. A
 * RateLimiterRes rejection is a decision (`over: true`); a store error is a fault, thrown as
 * RELAY_ERR_STATE_UNAVAILABLE (with `fail-open` the insurance limiter answers instead and
 * nothing is thrown).
 */
export class Limit {
  readonly spec: RateSpec
  readonly scope: LimitScope
  readonly #backend: StateBackend
  readonly #main: RateLimiterAbstract
  readonly #burst: RateLimiterAbstract | null
  readonly #limiter: RateLimiterAbstract | BurstyRateLimiter

  constructor(backend: StateBackend, scope: LimitScope, spec: RateSpec) {
    this.spec = spec
    this.scope = scope
    this.#backend = backend
    const prefix = `rl:${scope.check}:${scope.dimension}`
    const base = { instance: scope.instance, check: scope.check }
    this.#main = backend.limiter({ ...base, prefix, points: spec.points, windowMs: spec.windowMs })
    this.#burst = spec.burst
      ? backend.limiter({ ...base, prefix: `${prefix}+burst`, points: spec.burst.points, windowMs: spec.burst.windowMs })
      : null
    this.#limiter = this.#burst ? new BurstyRateLimiter(this.#main, this.#burst) : this.#main
  }

  /** Counts `points` for `value` and says whether that went over the limit. */
  consume(value: string, points = 1): Promise<LimitResult> {
    // Called for every message and recipient: no wrapper closures on the memory backend.
    const counted = this.#limiter.consume(value, points).then(
      (res): LimitResult => ({ over: false, consumed: res.consumedPoints }),
      (err: unknown): LimitResult => {
        if (err instanceof RateLimiterRes) return { over: true, consumed: err.consumedPoints, retryMs: Math.max(0, err.msBeforeNext) }
        throw this.#fault(err)
      },
    )
    return this.#backend.kind === 'redis' ? this.#timed(() => counted) : counted
  }

  /** Gives points back (a connection closed). */
  async release(value: string, points = 1): Promise<void> {
    await this.#timed(async () => {
      try {
        const res = await this.#main.reward(value, points)
        // The window ran out while the connection was open: do not count below zero.
        if (res.consumedPoints < 0) await this.#main.delete(value)
      } catch (err) {
        throw this.#fault(err)
      }
    })
  }

  /** Whether `value` is over the limit now, without counting anything. */
  async peek(value: string): Promise<LimitResult> {
    return this.#timed(async () => {
      try {
        const main = await this.#main.get(value)
        if (!main || main.consumedPoints <= this.spec.points) return { over: false, consumed: main?.consumedPoints ?? 0 }
        const burst = this.#burst ? await this.#burst.get(value) : null
        if (this.spec.burst && (!burst || burst.consumedPoints <= this.spec.burst.points)) {
          return { over: false, consumed: main.consumedPoints }
        }
        const retryMs = Math.max(0, Math.min(main.msBeforeNext, burst?.msBeforeNext ?? Infinity))
        return { over: true, consumed: main.consumedPoints, retryMs }
      } catch (err) {
        throw this.#fault(err)
      }
    })
  }

  #timed<T>(op: () => Promise<T>): Promise<T> {
    return this.#backend.kind === 'redis' ? timedRedis('limit', op) : op()
  }

  #fault(err: unknown): RelayError {
    limitStateFailuresFor(this.scope.instance, this.scope.check, 'tempfail').inc()
    const message = err instanceof Error ? err.message : String(err)
    return new RelayError('RELAY_ERR_STATE_UNAVAILABLE', [this.#backend.kind, this.scope.check, message], { cause: err })
  }
}

/** True for the fault a Limit throws when the state backend cannot answer. */
export function isStateUnavailable(err: unknown): err is RelayError {
  return err instanceof RelayError && err.code === 'RELAY_ERR_STATE_UNAVAILABLE'
}
