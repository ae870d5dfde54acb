import type { RedisClient } from '../limits/redis-client.js'
import type { AuthAttempt } from './auth-trail.js'

/** Where AUTH attempts wait for the evaluating node: this process, or Redis for a cluster. */
export interface AuthFeed {
  push(a: AuthAttempt): void
  /** Everything pushed since the last drain, oldest first. */
  drain(): Promise<AuthAttempt[]>
}

/** Most attempts kept waiting; beyond it the oldest go (a guessing storm is visible long before). */
const KEPT = 20_000

/** One node: attempts wait in memory. */
export class LocalAuthFeed implements AuthFeed {
  #waiting: AuthAttempt[] = []

  push(a: AuthAttempt): void {
    this.#waiting.push(a)
    if (this.#waiting.length > KEPT) this.#waiting.shift()
  }

  drain(): Promise<AuthAttempt[]> {
    const all = this.#waiting
    this.#waiting = []
    return Promise.resolve(all)
  }
}

/**
 * A cluster: every node pushes its attempts to one Redis list, and the node holding the lease
 * takes them all at each evaluation, so guessing spread over nodes is seen as one. While Redis
 * does not answer, a node keeps its attempts and sends them with its next push.
 */
export class RedisAuthFeed implements AuthFeed {
  readonly #client: RedisClient
  readonly #key: string
  readonly #local = new LocalAuthFeed()

  constructor(client: RedisClient, prefix = '') {
    this.#client = client
    this.#key = `${prefix}{alerts}:auth`
  }

  push(a: AuthAttempt): void {
    this.#local.push(a)
    void this.#flush()
  }

  async drain(): Promise<AuthAttempt[]> {
    await this.#flush()
    const result = await this.#client.multi().lrange(this.#key, 0, -1).del(this.#key).exec()
    const items = (result?.[0]?.[1] ?? []) as string[]
    return items.map((json) => JSON.parse(json) as AuthAttempt)
  }

  async #flush(): Promise<void> {
    const waiting = await this.#local.drain()
    if (!waiting.length) return
    try {
      await this.#client
        .multi()
        .rpush(this.#key, ...waiting.map((a) => JSON.stringify(a)))
        .ltrim(this.#key, -KEPT, -1)
        .exec()
    } catch {
      for (const a of waiting) this.#local.push(a)
    }
  }
}
