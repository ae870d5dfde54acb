import type { RedisClient } from '../limits/redis-client.js'
import type { Incident } from './incident.js'
import type { IncidentStore } from './store.js'

/** Incidents of the Redis backend: one hash by id, shared by every node. */
export class RedisIncidentStore implements IncidentStore {
  readonly #client: RedisClient
  readonly #all: string

  constructor(client: RedisClient, prefix = '') {
    this.#client = client
    this.#all = `${prefix}{alerts}:incidents`
  }

  async get(id: string): Promise<Incident | null> {
    const json = await this.#client.hget(this.#all, id)
    return json ? (JSON.parse(json) as Incident) : null
  }

  async list(): Promise<Incident[]> {
    const all = (await this.#client.hvals(this.#all)).map((j) => JSON.parse(j) as Incident)
    return all.sort((a, b) => (a.last_seen < b.last_seen ? 1 : -1))
  }

  async put(i: Incident): Promise<void> {
    await this.#client.hset(this.#all, i.id, JSON.stringify(i))
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
