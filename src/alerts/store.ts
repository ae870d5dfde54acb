import type { Incident, IncidentEvent } from './incident.js'

/** One incident event waiting for one sender's receiver to confirm it. */
export interface Delivery {
  /** The delivery (event) id: `webhook-id`, the e-mail's Message-ID part; stable across retries. */
  id: string
  sender: string
  incident_id: string
  event: IncidentEvent
  /** The incident as it was when the event was made. */
  incident: Incident
  attempts: number
  /** ms epoch of the next attempt. */
  next_at: number
  /** ms epoch the oldest event folded into this one was made (what the outbox age reports). */
  created_at: number
  last_error?: string
}

/**
 * The durable outbox: deliveries survive a restart and leave only once their receiver confirmed.
 * `put` folds: a newer event for the same sender and incident replaces one still waiting (each
 * carries the whole incident, so the newest says everything the older one did).
 */
export interface Outbox {
  put(d: Delivery): Promise<void>
  /** Deliveries whose time has come, oldest first. */
  due(now: number, limit: number): Promise<Delivery[]>
  /** The receiver confirmed: the delivery leaves. */
  done(d: Delivery): Promise<void>
  /** The attempt failed: try again at `nextAt`. */
  retry(d: Delivery, nextAt: number, error: string): Promise<void>
  /** Deliveries waiting and the ms epoch of the oldest one. */
  stats(): Promise<{ size: number; oldest: number | null }>
  close(): Promise<void>
}

/** Where incidents are kept: a file (memory backend) or Redis (a cluster), so a restart or another node knows them. */
export interface IncidentStore {
  get(id: string): Promise<Incident | null>
  /** Every kept incident, the most recently seen first. */
  list(): Promise<Incident[]>
  put(incident: Incident): Promise<void>
  /** Drops resolved incidents resolved before `before`. */
  prune(before: number): Promise<void>
  close(): Promise<void>
}

/** Who may evaluate and deliver: the one node holding the lease. */
export interface Lease {
  /** True while this node holds (or just took) the lease. */
  hold(): Promise<boolean>
  release(): Promise<void>
}
