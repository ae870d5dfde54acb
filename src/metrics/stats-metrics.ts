import { Counter } from 'prom-client'
import { registry } from './registry.js'

/** Writes and reads of the shared statistics, by result: ok, failed (kept in this node's memory), read_local. */
export const statsFlushes = new Counter({
  name: 'smarthost_stats_redis_operations_total',
  help: 'Batches of per-client statistics written to Redis (ok, failed: kept in this node only) and reads answered from this node because Redis did not (read_local)',
  labelNames: ['result'] as const,
  registers: [registry],
})
