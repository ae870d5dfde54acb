import { Counter, Gauge } from 'prom-client'
import { registry } from './registry.js'

/** Writes and reads of the shared statistics, by result: ok, failed (kept in this node's memory), read_local. */
export const statsFlushes = new Counter({
  name: 'smarthost_stats_redis_operations_total',
  help: 'Batches of per-client statistics written to Redis (ok, failed: kept in this node only) and reads answered from this node because Redis did not (read_local)',
  labelNames: ['result'] as const,
  registers: [registry],
})

/** Per-client events counted, by instance (what the statistics saw; no client label: see `smarthost-guard stats`). */
export const statsEvents = new Counter({
  name: 'smarthost_stats_events_total',
  help: 'Session outcomes and transactions counted in the per-client statistics (per-client figures: smarthost-guard stats or /api/stats)',
  labelNames: ['relay_instance', 'event'] as const,
  registers: [registry],
})

const sizes = new Map<string, () => number>()

/** Client keys held in this process's statistics memory, per instance (bounded by stats.max_clients). */
export const statsClients = new Gauge({
  name: 'smarthost_stats_clients',
  help: 'Client keys (addresses, subnets, users, sender domains) whose counters this process holds in memory, at most stats.max_clients per instance',
  labelNames: ['relay_instance'] as const,
  registers: [registry],
  collect() {
    this.reset()
    for (const [instance, size] of sizes) this.labels(instance).set(size())
  },
})

/** Makes `size` the source of smarthost_stats_clients for an instance (`null` removes it). */
export function reportStatsClients(instance: string, size: (() => number) | null): void {
  if (size) sizes.set(instance, size)
  else sizes.delete(instance)
}
