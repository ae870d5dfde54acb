// Memory and CPU the per-client statistics take after N distinct clients, each seen once with a
// delivered message (address and subnet keys): the memory store at the given bounds, by default
// the stats section's. Run with --expose-gc (stats-run.ts does); prints JSON on stdout:
// node --expose-gc --import tsx test/bench/stats-memory.ts [clients] [max_clients] [max_baselines]
import { performance } from 'node:perf_hooks'
import { MemoryStatsStore } from '../../src/stats/memory-store.js'
import { statsSchema } from '../../src/stats/schema.js'
import type { ClientKey } from '../../src/stats/store.js'

const defaults = statsSchema.parse(undefined)
const n = Number(process.argv[2] ?? 1_000_000)
const maxClients = Number(process.argv[3] ?? defaults.max_clients)
const maxBaselines = Number(process.argv[4] ?? defaults.max_baselines)
const gc = (globalThis as { gc?: () => void }).gc
if (!gc) throw new Error('run with --expose-gc')

function heapMb(): number {
  gc?.()
  gc?.()
  return process.memoryUsage().heapUsed / 2 ** 20
}

const before = heapMb()
const store = new MemoryStatsStore({ maxClients, maxBaselines, snapshotFile: null })
const t0 = Date.now()
const cpu0 = performance.now()
for (let i = 0; i < n; i++) {
  const a = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`
  const keys: ClientKey[] = [`address:${a}`, `subnet:10.${(i >> 16) & 255}.${(i >> 8) & 255}.0/24`]
  store.observe(keys, { at: t0 + i, counts: { transactions: 1, accepted: 1, recipients: 1, bytes: 5000 }, recipientDomains: ['example.com'] })
}
const us = ((performance.now() - cpu0) * 1000) / n
console.log(JSON.stringify({ clients: n, max_clients: maxClients, max_baselines: maxBaselines, held: store.size, heap_mb: Math.round((heapMb() - before) * 10) / 10, us_per_event: Math.round(us * 10) / 10 }))
