import { randomUUID } from 'node:crypto'
import type { RedisClient } from '../limits/redis-client.js'
import type { Lease } from './store.js'

/** One node (the memory backend): it always evaluates. */
export class LocalLease implements Lease {
  hold(): Promise<boolean> {
    return Promise.resolve(true)
  }

  release(): Promise<void> {
    return Promise.resolve()
  }
}

// Renews only a lease this node holds; takes it when nobody does.
const HOLD = `
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0`

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`

/**
 * The evaluation lease of a cluster: a Redis key naming the holder, with a TTL (SET NX PX),
 * renewed by its holder at each evaluation. A node that stops renewing loses it after `ttlMs`
 * and another takes over, so a cluster raises one incident, not one per node.
 */
export class RedisLease implements Lease {
  readonly #client: RedisClient
  readonly #key: string
  readonly #ttlMs: number
  readonly node = randomUUID()

  constructor(client: RedisClient, ttlMs: number, prefix = '') {
    this.#client = client
    this.#key = `${prefix}{alerts}:lease`
    this.#ttlMs = ttlMs
  }

  async hold(): Promise<boolean> {
    try {
      return (await this.#client.eval(HOLD, 1, this.#key, this.node, this.#ttlMs)) === 1
    } catch {
      return false // Redis down: nobody can know who evaluates, so this node does not
    }
  }

  async release(): Promise<void> {
    await this.#client.eval(RELEASE, 1, this.#key, this.node).catch(() => undefined)
  }
}
