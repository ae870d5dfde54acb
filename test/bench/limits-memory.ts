// Memory the limiter state holds after N distinct client addresses: our bounded memory store
// (the default state.memory.max_entries) against rate-limiter-flexible's RateLimiterMemory
// (a Map entry and a timer per key, nothing bounds it). Run by limits.ts with --expose-gc;
// prints JSON on stdout.
import { RateLimiterMemory } from 'rate-limiter-flexible'
import { MemoryBackend } from '../../src/limits/backend.js'
import { Limit } from '../../src/limits/limit.js'
import { stateSchema } from '../../src/limits/schema.js'

const n = Number(process.argv[2] ?? 1_000_000)
const gc = (globalThis as { gc?: () => void }).gc
if (!gc) throw new Error('run with --expose-gc')

const address = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`

function heapMb(): number {
  gc?.()
  gc?.()
  return process.memoryUsage().heapUsed / 2 ** 20
}

const results: { store: string; addresses: number; entries: number; mb: number }[] = []

{
  const maxEntries = stateSchema.parse(undefined).memory.max_entries
  const before = heapMb()
  const backend = new MemoryBackend(maxEntries)
  const limit = new Limit(backend, { instance: 'outbound', check: 'mail.rate', dimension: 'address' }, { points: 100, windowMs: 3_600_000 })
  for (let i = 0; i < n; i++) await limit.consume(address(i))
  results.push({ store: `memory backend (max_entries ${maxEntries.toLocaleString('en-US')})`, addresses: n, entries: backend.cache.size, mb: heapMb() - before })
  backend.cache.clear()
}

{
  const before = heapMb()
  const limiter = new RateLimiterMemory({ points: 100, duration: 3600, keyPrefix: 'outbound:rl:mail.rate:address' })
  for (let i = 0; i < n; i++) await limiter.consume(address(i))
  const entries = (limiter as unknown as { _memoryStorage: { _storage: Map<string, unknown> } })._memoryStorage._storage.size
  results.push({ store: 'rate-limiter-flexible RateLimiterMemory (unbounded, for comparison)', addresses: n, entries, mb: heapMb() - before })
}

process.stdout.write(JSON.stringify(results))
