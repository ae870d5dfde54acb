import { BUCKET_SLOTS, COUNTERS, REFUSAL_REASONS, SLOT } from './counters.js'
import type { CounterName, RefusalReason } from './counters.js'
import { DistinctCounter } from './hyperloglog.js'
import { TopDomains } from './top-domains.js'
import { HOUR, HOURS_KEPT, MINUTE, MINUTES_KEPT, bucketOf, windowBuckets } from './windows.js'
import type { WindowName } from './windows.js'

/** What one event adds to a client key's statistics. */
export interface Observation {
  at: number
  counts: Partial<Record<CounterName, number>>
  /** The refusal's reason and the check that gave it, when the event is a refusal. */
  refusal?: { reason: RefusalReason; check: string; reply: string }
  recipientDomains?: readonly string[]
  /** The client (`address:…` or `user:…`) that sent a message whose sender domain's SPF lacks the relay. */
  spfRelayClient?: string
  sample?: Sample
}

/** One message kept as evidence. */
export interface Sample {
  at: number
  id: string
  outcome: string
  from: string
  subject?: string
  messageId?: string
  recipientDomains: readonly string[]
  reply?: string
}

/** Counters of one window, as read. */
export type WindowCounts = Record<CounterName, number> & {
  refused_by: Partial<Record<RefusalReason, number>>
  recipient_domains: number
}

interface Bucket {
  index: number
  slots: number[]
  domains: DistinctCounter | null
}

const SAMPLES_KEPT = 10
const REFUSALS_KEPT = 10

/** A refusal as kept in the recent list. */
export interface RecentRefusal {
  at: number
  reason: RefusalReason
  check: string
  reply: string
}

/**
 * One client key's statistics: sparse minute buckets for the last hour and hour buckets for the
 * last day (only buckets with traffic exist), plus bounded evidence (recent samples and
 * refusals). About 250 bytes per active bucket; a client seen once holds two buckets.
 */
export class ClientStats {
  readonly #minutes: Bucket[] = []
  readonly #hours: Bucket[] = []
  readonly samples: Sample[] = []
  /** The recipient domains it sends to most, over the time it is kept (made at its first recipient). */
  topDomains: TopDomains | null = null
  /** The clients that sent for this key with SPF_RELAY_NOT_AUTHORIZED (read for sender_domain keys), made at the first. */
  spfRelayClients: TopDomains | null = null
  readonly refusals: RecentRefusal[] = []
  firstSeen: number
  lastSeen: number

  constructor(at: number) {
    this.firstSeen = at
    this.lastSeen = at
  }

  add(o: Observation): void {
    if (o.at > this.lastSeen) this.lastSeen = o.at
    const m = bucket(this.#minutes, bucketOf(o.at, MINUTE), MINUTES_KEPT)
    const h = bucket(this.#hours, bucketOf(o.at, HOUR), HOURS_KEPT)
    addCounts(m.slots, o)
    addCounts(h.slots, o)
    if (o.refusal) push(this.refusals, { at: o.at, ...o.refusal }, REFUSALS_KEPT)
    if (o.recipientDomains?.length) {
      this.topDomains ??= new TopDomains()
      for (const d of o.recipientDomains) this.topDomains.add(d)
      m.domains ??= new DistinctCounter()
      h.domains ??= new DistinctCounter()
      for (const d of o.recipientDomains) {
        m.domains.add(d)
        h.domains.add(d)
      }
    }
    if (o.spfRelayClient) (this.spfRelayClients ??= new TopDomains()).add(o.spfRelayClient)
    if (o.sample) push(this.samples, o.sample, SAMPLES_KEPT)
  }

  /** The counters of `window` ending at `now`. */
  window(window: WindowName, now: number): WindowCounts {
    const { size, from, to, fromWeight } = windowBuckets(window, now)
    const sum = zeros()
    const domains = new DistinctCounter()
    for (const b of size === MINUTE ? this.#minutes : this.#hours) {
      if (b.index < from || b.index > to) continue
      const weight = b.index === from ? fromWeight : 1
      for (let i = 0; i < BUCKET_SLOTS; i++) sum[i] = sum[i]! + weight * b.slots[i]!
      if (b.domains && weight >= 0.5) domains.merge(b.domains)
    }
    return countsOf(sum, domains.count())
  }

  /** Closed hour buckets at or after `fromHour` and before the current hour: what baselines learn from. */
  closedHours(fromHour: number, now: number): { hour: number; counts: WindowCounts }[] {
    const current = bucketOf(now, HOUR)
    return this.#hours.filter((b) => b.index >= fromHour && b.index < current).map((b) => ({ hour: b.index, counts: countsOf(b.slots, 0) }))
  }

  /** True when nothing of it is inside the longest window any more. */
  expired(now: number): boolean {
    return now - this.lastSeen > HOURS_KEPT * HOUR
  }
}

/** Adds an observation's counters (and its refusal, under its reason) to a bucket's slots. */
export function addCounts(slots: number[], o: Observation): void {
  for (const name in o.counts) {
    const slot = SLOT[name as CounterName]
    slots[slot] = slots[slot]! + (o.counts[name as CounterName] ?? 0)
  }
  if (o.refusal) {
    const slot = SLOT[`refused_${o.refusal.reason}`]
    slots[slot] = slots[slot]! + 1
  }
}

/** The bucket `index` of `list` (sorted, at most `kept` long), made when missing. */
function bucket(list: Bucket[], index: number, kept: number): Bucket {
  const last = list[list.length - 1]
  if (last?.index === index) return last
  for (let i = list.length - 1; i >= 0; i--) if (list[i]!.index === index) return list[i]!
  const b: Bucket = { index, slots: zeros(), domains: null }
  list.push(b)
  list.sort((x, y) => x.index - y.index)
  while (list.length && list[0]!.index <= index - kept) list.shift()
  return b
}

/** An empty bucket's slots: a plain array, cheaper than a small typed array to make and collect. */
export function zeros(): number[] {
  return new Array<number>(BUCKET_SLOTS).fill(0)
}

function push<T>(list: T[], item: T, kept: number): void {
  list.push(item)
  if (list.length > kept) list.shift()
}

/** A bucket's (or a sum's) slots as named counters, rounded (sliding windows weigh their oldest bucket). */
export function countsOf(slots: ArrayLike<number>, recipientDomains: number): WindowCounts {
  const counts = {} as WindowCounts
  COUNTERS.forEach((name) => (counts[name] = Math.round(slots[SLOT[name]]!)))
  counts.refused_by = {}
  for (const r of REFUSAL_REASONS) {
    const n = Math.round(slots[SLOT[`refused_${r}`]]!)
    if (n) counts.refused_by[r] = n
  }
  counts.recipient_domains = recipientDomains
  return counts
}
