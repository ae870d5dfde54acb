import type { RedisClient } from '../limits/redis-client.js'
import type { Incident } from './incident.js'
import type { IncidentStore } from './store.js'

const PUT = `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if ARGV[4] == 'firing' then
  redis.call('HSET', KEYS[2], ARGV[3], ARGV[1])
elseif redis.call('HGET', KEYS[2], ARGV[3]) == ARGV[1] then
  redis.call('HDEL', KEYS[2], ARGV[3])
end
return 1`

/** Incidents of the Redis backend: a hash by id and an index of the firing one per client key and rule, shared by every node. */
export class RedisIncidentStore implements IncidentStore {
  readonly #client: RedisClient
  readonly #all: string
  readonly #firing: string

  constructor(client: RedisClient, prefix = '') {
    this.#client = client
    this.#all = `${prefix}{alerts}:incidents`
    this.#firing = `${prefix}{alerts}:incidents:firing`
  }

  async get(id: string): Promise<Incident | null> {
    const json = await this.#client.hget(this.#all, id)
    return json ? (JSON.parse(json) as Incident) : null
  }

  async firing(key: string, rule: string): Promise<Incident | null> {
    const id = await this.#client.hget(this.#firing, `${key}\0${rule}`)
    return id ? this.get(id) : null
  }

  async list(): Promise<Incident[]> {
    const all = (await this.#client.hvals(this.#all)).map((j) => JSON.parse(j) as Incident)
    return all.sort((a, b) => (a.last_seen < b.last_seen ? 1 : -1))
  }

  async put(i: Incident): Promise<void> {
    await this.#client.eval(PUT, 2, this.#all, this.#firing, i.id, JSON.stringify(i), `${i.client_key}\0${i.rule}`, i.status)
  }

  async prune(before: number): Promise<void> {
    const cut = new Date(before).toISOString()
    const old = (await this.list()).filter((i) => i.status === 'resolved' && i.resolved_at !== null && i.resolved_at < cut)
    if (old.length) await this.#client.hdel(this.#all, ...old.map((i) => i.id))
  }

  close(): Promise<void> {
    return Promise.resolve()
  }
}
