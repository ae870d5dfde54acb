import type { Dimension } from '../limits/dimensions.js'
import type { Baseline, Comparison } from './baseline.js'
import type { CounterName, RefusalReason } from './counters.js'
import type { Observation, RecentRefusal, Sample, WindowCounts } from './client-stats.js'
import type { DomainCount } from './top-domains.js'
import type { WindowName } from './windows.js'

/** A client key: `<dimension>:<value>`, e.g. `address:192.0.2.7`, `user:alice`, `sender_domain:shop.example`. */
export type ClientKey = `${Dimension}:${string}`

/** What `stats top` may sort by. */
export const SORT_FIELDS = ['messages', 'refused', 'recipients', 'bounces', 'auth_failures', 'connections', 'bytes', 'spf_relay_not_authorized'] as const
export type SortField = (typeof SORT_FIELDS)[number]

/** The counter each sort field reads: `messages` are accepted messages, `bounces` null-sender ones. */
export const SORT_COUNTER: Readonly<Record<SortField, CounterName>> = {
  messages: 'accepted',
  refused: 'refused',
  recipients: 'recipients',
  bounces: 'null_sender',
  auth_failures: 'auth_failures',
  connections: 'connections',
  bytes: 'bytes',
  spf_relay_not_authorized: 'spf_relay_not_authorized',
}

export interface TopQuery {
  by: Dimension
  window: WindowName
  sort: SortField
  limit: number
}

export interface TopRow {
  key: ClientKey
  counts: WindowCounts
}

/** The busiest keys, and where their figures come from. */
export interface TopAnswer {
  rows: TopRow[]
  source: StatsSource
}

/**
 * Where a client's figures come from: `memory` (this process, the memory backend), `redis` (every
 * node of the cluster), `local` (this node only: the backend is Redis, but Redis did not answer).
 */
export type StatsSource = 'memory' | 'redis' | 'local'

/** Everything known of one client key. */
export interface ClientView {
  key: ClientKey
  source: StatsSource
  firstSeen: number
  lastSeen: number
  windows: Record<WindowName, WindowCounts>
  baseline: (Pick<Baseline, 'hours'> & Record<'messages' | 'recipients' | 'refused', Comparison>) | null
  refusals: RecentRefusal[]
  samples: Sample[]
  /** The recipient domains it sent to most (messages per domain) over the last day, at most 10. */
  topRecipientDomains: DomainCount[]
  /** For a sender domain: the clients that sent it with SPF_RELAY_NOT_AUTHORIZED over the last day (messages each), at most 10. */
  spfRelayClients: SpfRelayClient[]
}

/** A client key (`address:…`, `user:…`) and how many messages it sent with SPF_RELAY_NOT_AUTHORIZED. */
export interface SpfRelayClient {
  client: string
  count: number
}

/** Where the statistics are kept: this process's memory, or Redis shared by every node. */
export interface StatsStore {
  readonly kind: 'memory' | 'redis'
  /** Adds an event to each of its client keys; never throws, never waits (statistics never refuse mail). */
  observe(keys: readonly ClientKey[], o: Observation): void
  top(q: TopQuery, now?: number): Promise<TopAnswer>
  show(key: ClientKey, now?: number): Promise<ClientView | null>
  close(): Promise<void>
}

export type { RefusalReason }
