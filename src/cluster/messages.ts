import type { MetricObjectWithValues, MetricValue } from 'prom-client'

/**
 * One operation a worker asks of the primary. `id` 0 is a notice: done in order with the
 * others of its batch, never answered (a slot released, a statistic observed).
 */
export interface Call {
  readonly id: number
  readonly op: string
  readonly args: readonly unknown[]
}

/** The primary's answer to one call: its value, or the message of what it threw. */
export type Answer = { readonly id: number; readonly value: unknown } | { readonly id: number; readonly error: string }

/** The metrics of one process, as prom-client's getMetricsAsJSON gives them. */
export type MetricsJson = MetricObjectWithValues<MetricValue<string>>[]

/** What a worker sends to the primary. */
export type WorkerMessage =
  | { readonly t: 'calls'; readonly calls: readonly Call[] }
  | { readonly t: 'ready' }
  | { readonly t: 'metrics'; readonly id: number; readonly metrics: MetricsJson }
  | { readonly t: 'reloaded'; readonly ok: boolean; readonly issues?: readonly string[] }
  | { readonly t: 'drained' }

/** What the primary sends to a worker. */
export type PrimaryMessage =
  | { readonly t: 'answers'; readonly answers: readonly Answer[] }
  | { readonly t: 'metrics'; readonly id: number }
  | { readonly t: 'reload' }
  | { readonly t: 'drain' }

/** True for a message of ours (the IPC channel also carries Node's own cluster messages). */
export function isClusterMessage<M extends { t: string }>(message: unknown): message is M {
  return typeof message === 'object' && message !== null && typeof (message as { t?: unknown }).t === 'string'
}
