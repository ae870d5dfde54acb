import type { Logger } from 'pino'
import type { RedisClient } from '../limits/redis-client.js'
import { statsFlushes } from '../metrics/stats-metrics.js'
import { compare, foldHours, newBaseline } from './baseline.js'
import type { Baseline } from './baseline.js'
import { BUCKET_SLOTS, COUNTERS, REFUSAL_REASONS, SLOT } from './counters.js'
import { addCounts, countsOf, zeros } from './client-stats.js'
import type { Observation, RecentRefusal, Sample, WindowCounts } from './client-stats.js'
import type { MemoryStatsStore } from './memory-store.js'
import { SORT_COUNTER, SORT_FIELDS } from './store.js'
import type { DomainCount } from './top-domains.js'
import type { ClientKey, ClientView, StatsStore, TopAnswer, TopQuery, TopRow } from './store.js'
import { HOUR, MINUTE, WINDOW_NAMES, bucketOf, windowBuckets } from './windows.js'
import type { WindowName } from './windows.js'

const SLOT_NAMES = [...COUNTERS, ...REFUSAL_REASONS.map((r) => `refused_${r}`)]
/** How long bucket keys live: a little over the longest window they serve. */
const TTL = { m: 3_660, h: 90_000 } as const
const EVIDENCE_KEPT = 10

interface Pending {
  slots: number[]
  /** Messages per recipient domain in this bucket. */
  domains: Map<string, number>
  /** Messages per client with SPF_RELAY_NOT_AUTHORIZED in this bucket. */
  spfClients: Map<string, number>
}

/**
 * Statistics shared by every node through Redis. Each event is added at once to this node's
 * memory store (which answers when Redis cannot) and to a pending batch that is written to Redis
 * once a second, summed per client key and bucket, so the per-message cost stays that of the
 * memory store. Keys of one client share a hash tag (`{address:192.0.2.7}`), so the commands of
 * one read go to one Cluster node. Baselines are learned by the node whose write first lands in
 * a new hour (a SET NX claim), from the hour buckets every node wrote.
 */
export class RedisStatsStore implements StatsStore {
  readonly kind = 'redis'
  readonly local: MemoryStatsStore
  readonly #client: RedisClient
  readonly #prefix: string
  readonly #log: Logger
  #pending = new Map<string, Pending>()
  #evidence = new Map<ClientKey, { refusals: RecentRefusal[]; samples: Sample[] }>()
  readonly #timer: NodeJS.Timeout
  #flushing: Promise<void> = Promise.resolve()
  #warnedAt = 0

  /** Runs a Redis operation (through the state backend's circuit breaker). */
  readonly #gate: <T>(op: () => Promise<T>) => Promise<T>

  constructor(client: RedisClient, instance: string, local: MemoryStatsStore, log: Logger, opts: { flushMs?: number; gate?: <T>(op: () => Promise<T>) => Promise<T> } = {}) {
    const flushMs = opts.flushMs ?? 1000
    this.#gate = opts.gate ?? ((op) => op())
    this.#client = client
    this.#prefix = `${instance}:st:`
    this.local = local
    this.#log = log
    this.#timer = setInterval(() => void this.flush(), flushMs).unref()
  }

  observe(keys: readonly ClientKey[], o: Observation): void {
    this.local.observe(keys, o)
    const minute = bucketOf(o.at, MINUTE)
    const hour = bucketOf(o.at, HOUR)
    for (const key of keys) {
      for (const id of [`${key}\0m\0${minute}`, `${key}\0h\0${hour}`]) {
        let p = this.#pending.get(id)
        if (!p) this.#pending.set(id, (p = { slots: zeros(), domains: new Map(), spfClients: new Map() }))
        addCounts(p.slots, o)
        if (o.recipientDomains) for (const d of o.recipientDomains) p.domains.set(d, (p.domains.get(d) ?? 0) + 1)
        if (o.spfRelayClient) p.spfClients.set(o.spfRelayClient, (p.spfClients.get(o.spfRelayClient) ?? 0) + 1)
      }
      if (o.refusal || o.sample) {
        let e = this.#evidence.get(key)
        if (!e) this.#evidence.set(key, (e = { refusals: [], samples: [] }))
        // Redis keeps only the newest EVIDENCE_KEPT of each list: a busy client's older items would be written and trimmed at once.
        if (o.refusal) keepNewest(e.refusals, { at: o.at, ...o.refusal })
        if (o.sample) keepNewest(e.samples, o.sample)
      }
    }
  }

  /** Writes the pending batch to Redis; on a fault the batch is dropped (this node's memory still holds it) and counted. */
  flush(): Promise<void> {
    this.#flushing = this.#flushing.then(() => this.#write())
    return this.#flushing
  }

  async #write(): Promise<void> {
    const pending = this.#pending
    const evidence = this.#evidence
    if (!pending.size && !evidence.size) return
    this.#pending = new Map()
    this.#evidence = new Map()
    try {
      // Commands are issued inside the gate: while the breaker is open none is sent at all.
      const hours = await this.#gate(() => this.#send(pending, evidence))
      await this.#gate(() => Promise.all([...hours].map(([key, hour]) => this.#learn(key, hour))))
      statsFlushes.labels('ok').inc()
    } catch (err) {
      statsFlushes.labels('failed').inc()
      // Once a minute at most: a Redis outage would otherwise log a line per flush.
      if (Date.now() - this.#warnedAt > 60_000) {
        this.#warnedAt = Date.now()
        this.#log.warn({ err: { message: (err as Error).message }, code: 'RELAY_ERR_STATE_UNAVAILABLE', dropped: pending.size }, 'statistics not written to Redis; this node keeps them in memory')
      }
    }
  }

  /** Sends one batch; resolves with the hour each client key was written in, once Redis took every command. */
  async #send(pending: Map<string, Pending>, evidence: Map<ClientKey, { refusals: RecentRefusal[]; samples: Sample[] }>): Promise<Map<ClientKey, number>> {
    const c = this.#client
    const ops: Promise<unknown>[] = []
    const hours = new Map<ClientKey, number>()
    for (const [id, p] of pending) {
      const [key, unit, index] = id.split('\0') as [ClientKey, 'm' | 'h', string]
      const bucket = this.#key(key, `${unit}:${index}`)
      for (let i = 0; i < BUCKET_SLOTS; i++) if (p.slots[i]) ops.push(c.hincrbyfloat(bucket, SLOT_NAMES[i]!, p.slots[i]!))
      ops.push(c.expire(bucket, TTL[unit]))
      if (p.domains.size) {
        const sketch = this.#key(key, `d${unit}:${index}`)
        ops.push(c.pfadd(sketch, ...p.domains.keys()), c.expire(sketch, TTL[unit]))
        if (unit === 'h') {
          // Messages per recipient domain by hour, for the day's top recipient domains.
          const ranked = this.#key(key, `td:${index}`)
          for (const [domain, n] of p.domains) ops.push(c.zincrby(ranked, n, domain))
          ops.push(c.expire(ranked, TTL.h))
        }
      }
      if (unit === 'h' && p.spfClients.size) {
        const ranked = this.#key(key, `sc:${index}`)
        for (const [client, n] of p.spfClients) ops.push(c.zincrby(ranked, n, client))
        ops.push(c.expire(ranked, TTL.h))
      }
      const dimension = key.slice(0, key.indexOf(':'))
      for (const sort of SORT_FIELDS) {
        const n = p.slots[SLOT[SORT_COUNTER[sort]]]!
        if (!n) continue
        const top = this.#topKey(dimension, sort, `${unit}:${index}`)
        ops.push(c.zincrby(top, n, key), c.expire(top, TTL[unit]))
      }
      if (unit === 'h') hours.set(key, Number(index))
    }
    // Evidence is ranked by when it happened, not by when a node flushed it: a node whose batch
    // of older messages arrives last must not push another node's newer ones out.
    for (const [key, e] of evidence) {
      for (const [name, items] of [['refusals', e.refusals], ['samples', e.samples]] as const) {
        if (!items.length) continue
        const ranked = this.#key(key, `recent-${name}`)
        ops.push(
          c.zadd(ranked, ...items.flatMap((x) => [x.at, JSON.stringify(x)])),
          c.zremrangebyrank(ranked, 0, -EVIDENCE_KEPT - 1),
          c.expire(ranked, TTL.h),
        )
      }
    }
    await Promise.all(ops)
    return hours
  }

  /** Folds the closed hours into the key's baseline, once per hour across the cluster. */
  async #learn(key: ClientKey, hour: number): Promise<void> {
    const c = this.#client
    const claim = await c.set(this.#key(key, `bl:${hour}`), '1', 'EX', 7200, 'NX')
    if (claim !== 'OK') return
    const stored = await c.get(this.#key(key, 'bl'))
    const b: Baseline = stored ? (JSON.parse(stored) as Baseline) : newBaseline(hour - 1)
    if (hour - 1 <= b.lastHour) return
    const from = Math.max(b.lastHour + 1, hour - 24)
    const volumes = new Map<number, number[]>()
    for (let h = from; h < hour; h++) {
      const counts = toCounts(await c.hgetall(this.#key(key, `h:${h}`)), 0)
      if (counts.accepted || counts.recipients || counts.refused) volumes.set(h, [counts.accepted, counts.recipients, counts.refused])
    }
    foldHours(b, volumes, hour)
    await c.set(this.#key(key, 'bl'), JSON.stringify(b), 'EX', 90 * 86_400)
  }

  async top(q: TopQuery, now = Date.now()): Promise<TopAnswer> {
    try {
      return { rows: await this.#gate(() => this.#top(q, now)), source: 'redis' }
    } catch (err) {
      this.#fellBack(err)
      return { ...(await this.local.top(q, now)), source: 'local' }
    }
  }

  async #top(q: TopQuery, now: number): Promise<TopRow[]> {
    const { size, from, to, fromWeight } = windowBuckets(q.window, now)
    const unit = size === MINUTE ? 'm' : 'h'
    // Summed here rather than by ZUNION: the buckets are few, and the key prefix stays ioredis's business.
    const buckets = await Promise.all(
      Array.from({ length: to - from + 1 }, (_, i) => this.#client.zrange(this.#topKey(q.by, q.sort, `${unit}:${from + i}`), '0', '-1', 'WITHSCORES')),
    )
    const sums = new Map<ClientKey, number>()
    buckets.forEach((flat, i) => {
      const weight = i === 0 ? fromWeight : 1
      for (let j = 0; j < flat.length; j += 2) sums.set(flat[j] as ClientKey, (sums.get(flat[j] as ClientKey) ?? 0) + weight * Number(flat[j + 1]))
    })
    // Most first (ties by key, as the memory store): the limit keeps the top, not the first written.
    const ranked = [...sums].map(([key, n]) => ({ key, n })).sort((x, y) => y.n - x.n || (x.key < y.key ? -1 : 1))
    const rows = await Promise.all(ranked.slice(0, q.limit).map(async ({ key }) => ({ key, counts: await this.#window(key, q.window, now) })))
    return rows.filter((r) => r.counts[SORT_COUNTER[q.sort]] > 0)
  }

  async show(key: ClientKey, now = Date.now()): Promise<ClientView | null> {
    try {
      return await this.#gate(() => this.#show(key, now))
    } catch (err) {
      this.#fellBack(err)
      const view = await this.local.show(key, now)
      return view && { ...view, source: 'local' }
    }
  }

  async #show(key: ClientKey, now: number): Promise<ClientView | null> {
    const windows = Object.fromEntries(await Promise.all(WINDOW_NAMES.map(async (w) => [w, await this.#window(key, w, now)] as const))) as ClientView['windows']
    if (COUNTERS.every((name) => !windows['24h'][name])) return null
    const c = this.#client
    const [stored, refusals, samples, topRecipientDomains, spfClients] = await Promise.all([
      c.get(this.#key(key, 'bl')),
      c.zrevrange(this.#key(key, 'recent-refusals'), 0, -1),
      c.zrevrange(this.#key(key, 'recent-samples'), 0, -1),
      this.#dayTop(key, 'td', now),
      windows['24h'].spf_relay_not_authorized ? this.#dayTop(key, 'sc', now) : Promise.resolve([]),
    ])
    const b = stored ? (JSON.parse(stored) as Baseline) : null
    const hour = bucketOf(now, HOUR)
    const h = windows['1h']
    const parsedSamples = samples.map((s) => JSON.parse(s) as Sample)
    const parsedRefusals = refusals.map((s) => JSON.parse(s) as RecentRefusal)
    const times = [...parsedSamples.map((s) => s.at), ...parsedRefusals.map((r) => r.at)]
    return {
      key,
      source: 'redis',
      firstSeen: times.length ? Math.min(...times) : now,
      lastSeen: times.length ? Math.max(...times) : now,
      windows,
      baseline: b && b.hours ? { hours: b.hours, messages: compare(b, 'messages', hour, h.accepted), recipients: compare(b, 'recipients', hour, h.recipients), refused: compare(b, 'refused', hour, h.refused) } : null,
      refusals: parsedRefusals,
      samples: parsedSamples,
      topRecipientDomains,
      spfRelayClients: spfClients.map((d) => ({ client: d.domain, count: d.count })),
    }
  }

  /** The day's top ten of an hourly ranking (`td`: recipient domains, `sc`: SPF_RELAY_NOT_AUTHORIZED clients), summed here. */
  async #dayTop(key: ClientKey, ranking: 'td' | 'sc', now: number): Promise<DomainCount[]> {
    const hour = bucketOf(now, HOUR)
    const hours = await Promise.all(Array.from({ length: 24 }, (_, i) => this.#client.zrevrange(this.#key(key, `${ranking}:${hour - i}`), '0', '19', 'WITHSCORES')))
    const sums = new Map<string, number>()
    for (const flat of hours) for (let j = 0; j < flat.length; j += 2) sums.set(flat[j]!, (sums.get(flat[j]!) ?? 0) + Number(flat[j + 1]))
    return [...sums]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, 10)
      .map(([domain, count]) => ({ domain, count }))
  }

  async #window(key: ClientKey, window: WindowName, now: number): Promise<WindowCounts> {
    const { size, from, to, fromWeight } = windowBuckets(window, now)
    const unit = size === MINUTE ? 'm' : 'h'
    const c = this.#client
    const sum = zeros()
    const sketches: string[] = []
    const hashes = await Promise.all(
      Array.from({ length: to - from + 1 }, (_, i) => {
        if (i > 0 || fromWeight >= 0.5) sketches.push(this.#key(key, `d${unit}:${from + i}`))
        return c.hgetall(this.#key(key, `${unit}:${from + i}`))
      }),
    )
    hashes.forEach((hash, i) => {
      const weight = i === 0 ? fromWeight : 1
      for (const [field, value] of Object.entries(hash)) {
        const slot = SLOT[field as keyof typeof SLOT]
        if (slot !== undefined) sum[slot] = sum[slot]! + weight * Number(value)
      }
    })
    return toCounts(sum, sketches.length ? await c.pfcount(...sketches) : 0)
  }

  #fellBack(err: unknown): void {
    statsFlushes.labels('read_local').inc()
    this.#log.warn({ err: { message: (err as Error).message }, code: 'RELAY_ERR_STATE_UNAVAILABLE' }, 'statistics read from this node only: Redis is not answering')
  }

  #key(client: ClientKey, rest: string): string {
    return `${this.#prefix}{${client}}:${rest}`
  }

  #topKey(dimension: string, sort: string, bucket: string): string {
    return `${this.#prefix}{top}:${dimension}:${sort}:${bucket}`
  }

  async close(): Promise<void> {
    clearInterval(this.#timer)
    await this.flush()
    await this.local.close()
  }
}

/** Counters from a Redis hash or a slot array (fields absent = 0). */
function toCounts(source: Record<string, string> | number[], recipientDomains: number): WindowCounts {
  return countsOf(Array.isArray(source) ? source : SLOT_NAMES.map((name) => Number(source[name] ?? 0)), recipientDomains)
}

/** Appends `item`, dropping the oldest once the list holds more than Redis keeps. */
function keepNewest<T>(list: T[], item: T): void {
  list.push(item)
  if (list.length > EVIDENCE_KEPT) list.shift()
}
