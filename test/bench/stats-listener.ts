// CPU the per-client statistics spend on each message in the relay's own code, without SMTP and
// without the noise of other processes: transaction events (and, for a connection per message,
// a disconnect each) of one busy customer through RelayStats, as the relay's event stream feeds
// them. With Redis, the store's flush runs every 1,000 messages (a second at 1,000 msg/s) and is
// counted. Run by stats-run.ts; prints JSON on stdout:
// node --import tsx test/bench/stats-listener.ts [messages] [redis-url]
import { pino } from 'pino'
import type { LoadedPolicy } from '../../src/config/load.js'
import { RelayEvents } from '../../src/events/relay-events.js'
import type { StateBackend } from '../../src/limits/backend.js'
import { stateSchema } from '../../src/limits/schema.js'
import { openStateBackend } from '../../src/limits/state-backend.js'
import type { SessionRecord } from '../../src/pipeline/record.js'
import { newTransactionRecord } from '../../src/pipeline/record.js'
import { RedisStatsStore } from '../../src/stats/redis-store.js'
import { RelayStats } from '../../src/stats/relay-stats.js'
import { statsSchema } from '../../src/stats/schema.js'

const n = Number(process.argv[2] ?? 200_000)
const redisUrl = process.argv[3]
const log = pino({ level: 'silent' })
const FLUSH_EVERY = 1000

const session: SessionRecord = {
  id: 'bench-session',
  instance: 'outbound',
  listener: 'bench',
  client: { address: '192.0.2.7', port: 40000, ptr: 'mail.shop.example' },
  server: { address: '192.0.2.1', port: 25 },
  helo: 'mail.shop.example',
  tls: null,
  user: null,
  relayClient: true,
  clientClass: 'business-static',
  classBy: 'default',
  score: 0,
  flags: [],
  checks: [],
  headers: [],
  startedAt: Date.now(),
  transactions: 0,
}

/** A delivered 5 KB message to one recipient, as the relay records it. */
function message(events: RelayEvents, i: number, disconnect: boolean): void {
  const tx = newTransactionRecord({ id: `bench-${i}`, session: session.id, mailFrom: 'sender@shop.example', params: {} })
  tx.rcpts.push({ address: `r${i % 50}@example.net`, domain: 'example.net', local: false, accepted: true })
  tx.size = 5300
  tx.outcome = 'delivered'
  tx.reply = '250 2.0.0 Ok: queued'
  tx.evidence = { subject: 'Invoice 2026-1147', messageId: `<${i}@shop.example>` }
  const now = Date.now()
  events.emitTransaction({ type: 'transaction', time: now, session, tx, check: null, reply: null })
  if (disconnect) events.emitSession({ type: 'session', time: now, session, stage: 'close', outcome: 'disconnected', check: null, reply: null, reason: 'quit', user: null })
}

async function measure(backend: StateBackend, disconnect: boolean): Promise<number> {
  const loaded = { file: '/dev/null', files: new Map(), policy: { stats: statsSchema.parse(undefined) } } as unknown as LoadedPolicy
  const stats = await RelayStats.open(loaded, ['outbound'], backend, log)
  if (!stats) throw new Error('statistics are off')
  const events = new RelayEvents((err) => {
    throw err
  })
  stats.subscribe(events)
  const store = stats.store('outbound')
  const flush = async () => {
    if (store instanceof RedisStatsStore) await store.flush()
  }
  // Warm-up, so the JIT has compiled the path before it is timed.
  for (let i = 0; i < 20_000; i++) message(events, i, disconnect)
  await flush()
  const cpu0 = process.cpuUsage()
  for (let i = 0; i < n; i++) {
    message(events, i, disconnect)
    if (i % FLUSH_EVERY === FLUSH_EVERY - 1) await flush()
  }
  await flush()
  const cpu = process.cpuUsage(cpu0)
  await stats.close()
  return (cpu.user + cpu.system) / n
}

const rows: { backend: string; load: string; us: number }[] = []
const backends: [string, () => Promise<StateBackend>][] = [['memory', () => openStateBackend({ policy: { state: stateSchema.parse(undefined) }, files: new Map() } as unknown as LoadedPolicy, log)]]
if (redisUrl) {
  backends.push([
    'redis',
    () => openStateBackend({ policy: { state: stateSchema.parse({ backend: 'redis', redis: { url: redisUrl, key_prefix: 'bench-listener:' } }) }, files: new Map() } as unknown as LoadedPolicy, log),
  ])
}
for (const [name, open] of backends) {
  for (const [load, disconnect] of [['persistent sessions', false], ['new connection per message', true]] as const) {
    const backend = await open()
    rows.push({ backend: name, load, us: Math.round((await measure(backend, disconnect)) * 10) / 10 })
    await backend.close()
  }
}
console.log(JSON.stringify(rows))
