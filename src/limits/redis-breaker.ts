import { ReplyError } from 'ioredis'
import type { Logger } from 'pino'
import { RelayError } from '../errors/relay-error.js'
import { reportDegraded } from '../metrics/degraded.js'
import { redisBreakerTrips, reportRedisBreaker } from '../metrics/limit-metrics.js'
import type { RedisClient } from './redis-client.js'

/** Consecutive failed operations that open the breaker. */
export const BREAKER_FAILURES = 3

/** A Redis reply (WRONGTYPE, NOSCRIPT…) means Redis answered: not an outage. */
const isOutage = (err: unknown) => !(err instanceof (ReplyError as ErrorConstructor))

/**
 * A circuit breaker in front of Redis. A stalled Redis (a paused process, a saturated host)
 * keeps the TCP connection open, so every command waits its full command_timeout and a
 * message that needs several waits for seconds. After BREAKER_FAILURES failures in a row the
 * breaker opens: operations fail at once (the state's on_failure answers: per-node memory or
 * 4xx) and only a PING every `probeMs` goes to Redis; the first PONG closes it again.
 */
export class RedisBreaker {
  readonly #client: RedisClient
  readonly #probeMs: number
  readonly #log: Logger
  #failures = 0
  #openSince = 0
  #probe: NodeJS.Timeout | null = null
  #probing = false
  readonly #onReady = () => void this.#tryProbe()

  constructor(client: RedisClient, opts: { probeMs: number; log: Logger }) {
    this.#client = client
    this.#probeMs = opts.probeMs
    this.#log = opts.log
    // A reconnection is a sign of life too: probe at once rather than at the next tick.
    client.on('ready', this.#onReady)
    reportRedisBreaker(this, () => this.isOpen)
    reportDegraded(this, () =>
      this.#openSince ? [`redis: circuit breaker open since ${new Date(this.#openSince).toISOString()}; limits and the penalty box follow state.redis.on_failure`] : [],
    )
  }

  /** True while operations are answered without asking Redis. */
  get isOpen(): boolean {
    return this.#openSince !== 0
  }

  /**
   * Runs a Redis operation unless the breaker is open (then it throws
   * RELAY_ERR_STATE_UNAVAILABLE at once), and counts its outcome.
   */
  run<T>(what: string, op: () => Promise<T>): Promise<T> {
    if (this.#openSince) {
      return Promise.reject(new RelayError('RELAY_ERR_STATE_UNAVAILABLE', ['redis', what, 'not asked: Redis did not answer lately (circuit breaker open)']))
    }
    return op().then(
      (value) => {
        this.#failures = 0
        return value
      },
      (err: unknown) => {
        if (isOutage(err) && ++this.#failures >= BREAKER_FAILURES) this.#open(err)
        throw err
      },
    )
  }

  /** Stops probing (the backend closes). */
  close(): void {
    if (this.#probe) clearInterval(this.#probe)
    this.#probe = null
    this.#client.off('ready', this.#onReady)
    reportRedisBreaker(this, null)
    reportDegraded(this, null)
  }

  #open(err: unknown): void {
    if (this.#openSince) return
    this.#openSince = Date.now()
    redisBreakerTrips.inc()
    this.#log.warn(
      { code: 'RELAY_ERR_STATE_UNAVAILABLE', failures: this.#failures, err: { message: err instanceof Error ? err.message : String(err) } },
      'Redis does not answer: circuit breaker open, limits follow state.redis.on_failure without asking it until a PING answers',
    )
    this.#probe = setInterval(() => void this.#tryProbe(), this.#probeMs)
    this.#probe.unref()
  }

  async #tryProbe(): Promise<void> {
    if (!this.#openSince || this.#probing) return
    this.#probing = true
    try {
      await this.#client.ping()
      this.#close()
    } catch {
      // Still stalled or down: the next tick asks again.
    } finally {
      this.#probing = false
    }
  }

  #close(): void {
    if (!this.#openSince) return
    const ms = Date.now() - this.#openSince
    this.#openSince = 0
    this.#failures = 0
    if (this.#probe) clearInterval(this.#probe)
    this.#probe = null
    this.#log.info({ open_ms: ms }, 'Redis answers again: circuit breaker closed')
  }
}
