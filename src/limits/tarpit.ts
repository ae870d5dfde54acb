import { tarpitActive, tarpitSkipped } from '../metrics/limit-metrics.js'

/**
 * Delays replies to offending clients, holding at most `maxSockets` connections at once: a
 * bot waits instead of retrying at full speed, and a flood of bots cannot tie up the relay's
 * sockets (beyond the cap, replies go out at once). One per instance, kept across reloads.
 */
export class Tarpit {
  readonly #instance: string
  #active = 0

  constructor(instance: string) {
    this.#instance = instance
  }

  /** Waits `ms` (bounded by the caller), or not at all when `maxSockets` are already held. */
  async hold(ms: number, maxSockets: number): Promise<void> {
    if (ms <= 0) return
    if (this.#active >= maxSockets) {
      tarpitSkipped.labels(this.#instance).inc()
      return
    }
    this.#active++
    tarpitActive.labels(this.#instance).inc()
    try {
      await new Promise((resolve) => setTimeout(resolve, ms).unref())
    } finally {
      this.#active--
      tarpitActive.labels(this.#instance).dec()
    }
  }
}
