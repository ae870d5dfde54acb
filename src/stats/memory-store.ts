import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { LRUCache } from 'lru-cache'
import { compare, foldHours, newBaseline } from './baseline.js'
import type { Baseline } from './baseline.js'
import { ClientStats } from './client-stats.js'
import type { Observation } from './client-stats.js'
import { SORT_COUNTER } from './store.js'
import type { ClientKey, ClientView, StatsStore, TopAnswer, TopQuery, TopRow } from './store.js'
import { HOUR, HOURS_KEPT, WINDOW_NAMES, bucketOf } from './windows.js'
import { growingLru } from '../lru.js'

export interface MemoryStatsOptions {
  /** Client keys whose counters are kept; the least recently seen go first. */
  maxClients: number
  /** Client keys whose baselines are kept (smaller entries, longer memory). */
  maxBaselines: number
  /** Snapshot file of the baselines, read at start and written by `snapshot()`; null: none. */
  snapshotFile: string | null
}

/**
 * Statistics in this process's memory: counters per client key in an LRU of at most
 * `maxClients` entries (a day after its last event a key is dropped anyway), baselines in a second
 * LRU that a snapshot file keeps across restarts.
 */
export class MemoryStatsStore implements StatsStore {
  readonly kind = 'memory'
  readonly #clients: LRUCache<ClientKey, ClientStats>
  readonly #baselines: LRUCache<ClientKey, Baseline>
  readonly #snapshotFile: string | null

  constructor(opts: MemoryStatsOptions) {
    this.#clients = growingLru(opts.maxClients, { ttl: HOURS_KEPT * HOUR, ttlAutopurge: false })
    this.#baselines = growingLru(opts.maxBaselines)
    this.#snapshotFile = opts.snapshotFile
  }

  /** Reads the baselines of the snapshot file, if there is one. */
  async load(): Promise<number> {
    if (!this.#snapshotFile) return 0
    let text: string
    try {
      text = await readFile(this.#snapshotFile, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0
      throw err
    }
    let n = 0
    for (const line of text.split('\n')) {
      if (!line) continue
      const { key, baseline } = JSON.parse(line) as { key: ClientKey; baseline: Baseline }
      this.#baselines.set(key, baseline)
      n++
    }
    return n
  }

  /** Writes every baseline to the snapshot file (a temporary file renamed over it). */
  async snapshot(): Promise<void> {
    if (!this.#snapshotFile) return
    const lines: string[] = []
    for (const [key, baseline] of this.#baselines.rentries()) lines.push(JSON.stringify({ key, baseline }))
    await mkdir(dirname(this.#snapshotFile), { recursive: true })
    const tmp = `${this.#snapshotFile}.tmp`
    await writeFile(tmp, lines.join('\n') + '\n', { mode: 0o600 })
    await rename(tmp, this.#snapshotFile)
  }

  observe(keys: readonly ClientKey[], o: Observation): void {
    for (const key of keys) {
      let stats = this.#clients.get(key)
      if (!stats) this.#clients.set(key, (stats = new ClientStats(o.at)))
      // Only an event in a later hour than the key's last one can have closed an hour to learn from.
      else if (bucketOf(stats.lastSeen, HOUR) !== bucketOf(o.at, HOUR)) this.#learn(key, stats, o.at)
      stats.add(o)
    }
  }

  /** Folds the client's closed hours into its baseline once an event lands in a later hour. */
  #learn(key: ClientKey, stats: ClientStats, at: number): Baseline | null {
    const hour = bucketOf(at, HOUR)
    let b = this.#baselines.get(key)
    if (!b) {
      // A key gets a baseline once its first hour has closed: one-off clients cost no baseline.
      const first = bucketOf(stats.firstSeen, HOUR)
      if (first >= hour) return null
      this.#baselines.set(key, (b = newBaseline(first - 1)))
    }
    if (hour - 1 > b.lastHour) {
      const volumes = new Map(stats.closedHours(b.lastHour + 1, at).map(({ hour: h, counts }) => [h, [counts.accepted, counts.recipients, counts.refused]]))
      foldHours(b, volumes, hour)
    }
    return b
  }

  top(q: TopQuery, now = Date.now()): Promise<TopAnswer> {
    const prefix = `${q.by}:`
    const field = SORT_COUNTER[q.sort]
    const rows: TopRow[] = []
    for (const [key, stats] of this.#clients.entries()) {
      if (!key.startsWith(prefix)) continue
      const counts = stats.window(q.window, now)
      if (counts[field] > 0) rows.push({ key, counts })
    }
    rows.sort((a, b) => b.counts[field] - a.counts[field] || (a.key < b.key ? -1 : 1))
    return Promise.resolve({ rows: rows.slice(0, q.limit), source: 'memory' })
  }

  show(key: ClientKey, now = Date.now()): Promise<ClientView | null> {
    const stats = this.#clients.get(key)
    if (!stats) return Promise.resolve(null)
    const windows = Object.fromEntries(WINDOW_NAMES.map((w) => [w, stats.window(w, now)])) as ClientView['windows']
    const b = this.#learn(key, stats, now)
    const hour = bucketOf(now, HOUR)
    const lastHour = windows['1h']
    const baseline =
      !b || b.hours === 0
        ? null
        : {
            hours: b.hours,
            messages: compare(b, 'messages', hour, lastHour.accepted),
            recipients: compare(b, 'recipients', hour, lastHour.recipients),
            refused: compare(b, 'refused', hour, lastHour.refused),
          }
    return Promise.resolve({
      key,
      source: 'memory',
      firstSeen: stats.firstSeen,
      lastSeen: stats.lastSeen,
      windows,
      baseline,
      refusals: [...stats.refusals].reverse(),
      samples: [...stats.samples].reverse(),
      topRecipientDomains: stats.topDomains?.top() ?? [],
      spfRelayClients: stats.spfRelayClients?.top().map((d) => ({ client: d.domain, count: d.count })) ?? [],
    })
  }

  /** Client keys with counters held (for the memory bound's test and metric). */
  get size(): number {
    return this.#clients.size
  }

  close(): Promise<void> {
    return this.snapshot()
  }
}
