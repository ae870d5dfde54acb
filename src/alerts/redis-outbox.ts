import type { RedisClient } from '../limits/redis-client.js'
import type { Delivery, Outbox } from './store.js'

// One hash tag for every key, so the scripts' keys share a Cluster slot.
const keys = (prefix: string) => ({
  items: `${prefix}{alerts}:outbox`,
  due: `${prefix}{alerts}:outbox:due`,
  waiting: `${prefix}{alerts}:outbox:waiting`,
  created: `${prefix}{alerts}:outbox:created`,
})

// Replaces the delivery still waiting for the same sender and incident, keeping its creation time.
const PUT = `
local old = redis.call('HGET', KEYS[3], ARGV[2])
local created = tonumber(ARGV[5])
if old then
  local c = tonumber(redis.call('HGET', KEYS[4], old))
  if c and c < created then created = c end
  redis.call('HDEL', KEYS[1], old)
  redis.call('ZREM', KEYS[2], old)
  redis.call('HDEL', KEYS[4], old)
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[4], ARGV[1], created)
return 1`

const DONE = `
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
if redis.call('HGET', KEYS[3], ARGV[2]) == ARGV[1] then redis.call('HDEL', KEYS[3], ARGV[2]) end
return 1`

// Only a delivery still there is rescheduled: one folded away meanwhile stays gone.
const RETRY = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return 1`

/**
 * The outbox of the Redis backend: deliveries in a hash, their next attempt in a sorted set,
 * changed by scripts so a fold or a confirmation is one atomic step whichever node holds the
 * lease. Kept by Redis across restarts of every node (with its persistence: AOF or RDB).
 */
export class RedisOutbox implements Outbox {
  readonly #client: RedisClient
  readonly #k: ReturnType<typeof keys>

  constructor(client: RedisClient, prefix = '') {
    this.#client = client
    this.#k = keys(prefix)
  }

  async put(d: Delivery): Promise<void> {
    const k = this.#k
    await this.#client.eval(PUT, 4, k.items, k.due, k.waiting, k.created, d.id, slot(d), JSON.stringify(d), d.next_at, d.created_at)
  }

  async due(now: number, limit: number): Promise<Delivery[]> {
    const ids = await this.#client.zrangebyscore(this.#k.due, '-inf', now, 'LIMIT', 0, limit)
    if (!ids.length) return []
    const [items, created] = await Promise.all([this.#client.hmget(this.#k.items, ...ids), this.#client.hmget(this.#k.created, ...ids)])
    const out: Delivery[] = []
    items.forEach((json, i) => {
      if (!json) return
      const d = JSON.parse(json) as Delivery
      out.push({ ...d, created_at: Number(created[i] ?? d.created_at) })
    })
    return out
  }

  async done(d: Delivery): Promise<void> {
    const k = this.#k
    await this.#client.eval(DONE, 4, k.items, k.due, k.waiting, k.created, d.id, slot(d))
  }

  async retry(d: Delivery, nextAt: number, error: string): Promise<void> {
    const next: Delivery = { ...d, attempts: d.attempts + 1, next_at: nextAt, last_error: error }
    await this.#client.eval(RETRY, 2, this.#k.items, this.#k.due, d.id, nextAt, JSON.stringify(next))
  }

  async stats(): Promise<{ size: number; oldest: number | null }> {
    const created = await this.#client.hvals(this.#k.created)
    const times = created.map(Number)
    return { size: times.length, oldest: times.length ? Math.min(...times) : null }
  }

  close(): Promise<void> {
    return Promise.resolve()
  }
}

const slot = (d: Delivery) => `${d.sender}\0${d.incident_id}`
