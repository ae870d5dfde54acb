import { tarpitActive, tarpitSkipped } from '../metrics/limit-metrics.js'

/**
 * Delays replies to offending clients, holding at most `maxSockets` connections at once: a
 * bot waits instead of retrying at full speed, and a flood of bots cannot tie up the relay's
 * sockets (beyond the cap, replies go out at once). One per instance, kept across reloads.
 */
export class Tarpit {
  readonly #instance: string
  readonly #budget: TarpitBudget

  constructor(instance: string, budget: TarpitBudget = new LocalTarpitBudget()) {
    this.#instance = instance
    this.#budget = budget
  }

  /** Waits `ms` (bounded by the caller), or not at all when `maxSockets` are already held. */
  async hold(ms: number, maxSockets: number): Promise<void> {
    if (ms <= 0) return
    if (!(await this.#budget.take(maxSockets).catch(() => false))) {
      tarpitSkipped.labels(this.#instance).inc()
      return
    }
    tarpitActive.labels(this.#instance).inc()
    try {
      await new Promise((resolve) => setTimeout(resolve, ms).unref())
    } finally {
      this.#budget.give()
      tarpitActive.labels(this.#instance).dec()
    }
  }
}

/**
 * The sockets a tarpit may hold at once: counted in this process, or in the primary for every
 * worker of `serve --workers N`, so that N workers hold no more than one budget.
 */
export interface TarpitBudget {
  /** Takes a socket unless `max` are held; false: none left. */
  take(max: number): Promise<boolean>
  give(): void
}

/** A budget counted in this process. */
export class LocalTarpitBudget implements TarpitBudget {
  #active = 0

  take(max: number): Promise<boolean> {
    if (this.#active >= max) return Promise.resolve(false)
    this.#active++
    return Promise.resolve(true)
  }

  give(): void {
    this.#active--
  }
}
