// Microbenchmark of the per-transaction log line: µs per line and bytes per line for a
// delivered message with the default policy's checks, in log.format json and text.
// `node --import tsx test/bench/log-line.ts`
import { pathToFileURL } from 'node:url'
import { RelayEvents } from '../../src/events/relay-events.js'
import type { TransactionEvent } from '../../src/events/types.js'
import { logEvents } from '../../src/log/event-log.js'
import { createLogger } from '../../src/log/logger.js'
import type { Logger } from '../../src/log/logger.js'
import type { SessionRecord, TransactionRecord } from '../../src/pipeline/record.js'
import type { CheckResult } from '../../src/pipeline/types.js'

const now = Date.now()
const check = (c: string, stage: CheckResult['stage'], outcome: CheckResult['outcome'], detail?: string): CheckResult => ({
  check: c,
  stage,
  outcome,
  ...(detail ? { detail } : {}),
  ms: 0.1,
})

/** A session as the default outbound policy leaves it: authenticated, over TLS. */
export const sampleSession = (): SessionRecord => ({
  id: 'k3d9x0a1b2c3d4e5',
  instance: 'outbound',
  listener: 'submission',
  client: { address: '192.0.2.77', port: 51324, ptr: 'dsl-77.pool.isp.example' },
  server: { address: '192.0.2.1', port: 587 },
  helo: 'laptop.customer.example',
  tls: { protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' },
  user: 'alice',
  relayClient: false,
  clientClass: 'authenticated-user',
  classBy: 'auth',
  score: 0,
  flags: [],
  checks: [check('connect.penalty_box', 'connect', 'continue'), check('connect.limits', 'connect', 'continue')],
  headers: [],
  startedAt: now - 420,
  transactions: 1,
})

/** A delivered transaction with the default data checks and a content scan. */
export const sampleTransaction = (): TransactionRecord => ({
  id: '238VW8PZDZ616Z',
  session: 'k3d9x0a1b2c3d4e5',
  mailFrom: 'alice@customer.example',
  params: { BODY: '8BITMIME', SIZE: '48211' },
  evidence: null,
  rcpts: [{ address: 'bob@remote.example', domain: 'remote.example', local: false, accepted: true }],
  size: 48211,
  score: 0,
  flags: [],
  checks: [
    check('mail.relay_auth', 'mail', 'accept', 'authenticated as alice'),
    check('mail.rates', 'mail', 'continue'),
    check('rcpt.limits', 'rcpt', 'continue'),
    ...['from_mismatch', 'multiple_from', 'reply_to_freemail', 'forged_received', 'webmail_trace', 'missing_message_id', 'missing_date', 'bulk_mailer'].map((c) =>
      check(`data.${c}`, 'data', 'continue'),
    ),
    check('data.content_scan', 'data', 'continue', 'clean, 4 objects'),
  ],
  headers: [{ name: 'X-Relay-Checks', value: 'clean' }],
  tempfailed: false,
  quarantine: null,
  scan: { objects: 4, bytes: 61234, complete: true, flags: [], hits: [], score: 0, decision: 'accept', ms: 3.2, engine: 'native' },
  nextHop: {
    host: 'mx-queue.isp.example:25',
    reply: '250 2.0.0 Ok: queued as 4Qx1',
    ms: 12.4,
    attempts: [{ host: 'mx-queue.isp.example:25', reply: '250 2.0.0 Ok: queued as 4Qx1', ms: 12.4 }],
  },
  reply: '250 2.0.0 Ok: relayed as 238VW8PZDZ616Z (next hop: 250 2.0.0 Ok: queued as 4Qx1)',
  outcome: 'delivered',
  timings: { start: now - 400, data: now - 300, end: now },
})

/** Lines written into memory, so only formatting is measured. */
function counter(): { bytes: number; lines: number; write(line: string): void } {
  return {
    bytes: 0,
    lines: 0,
    write(line: string) {
      this.bytes += Buffer.byteLength(line)
      this.lines++
    },
  }
}

interface Variant {
  name: string
  once: () => void
  sink: { bytes: number; lines: number }
}

/** µs per line of one round of `n` lines. */
function round(v: Variant, n: number): number {
  v.sink.bytes = 0
  v.sink.lines = 0
  const started = process.hrtime.bigint()
  for (let i = 0; i < n; i++) v.once()
  return Number(process.hrtime.bigint() - started) / 1e3 / n
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 20_000)
  const session = sampleSession()
  const tx = sampleTransaction()
  const event: TransactionEvent = { type: 'transaction', time: Date.now(), session, tx, check: null, reply: null }
  const variants: Variant[] = []
  const baseline = process.env.LOG_LINE_BASELINE
  if (baseline) {
    // The line as written before the event stream (a module with logTransaction(log, session, tx)).
    const old = (await import(baseline)) as { logTransaction(log: Logger, s: SessionRecord, t: TransactionRecord): void }
    const sink = counter()
    const log = createLogger('info', { destination: sink }).child({ instance: 'outbound' }).child({ listener: 'submission' }).child({ sid: session.id, ip: session.client.address })
    variants.push({ name: 'before (pino, full record)', once: () => old.logTransaction(log, session, tx), sink })
  }
  const idle = new RelayEvents(() => undefined)
  // What the SMTP code pays when nobody listens: the check before building the event.
  variants.push({ name: 'no subscriber', once: () => idle.wantsTransactions && idle.emitTransaction(event), sink: counter() })
  for (const format of ['json', 'text'] as const) {
    const sink = counter()
    const events = new RelayEvents((err) => {
      throw err
    })
    logEvents(events, createLogger('info', { format, destination: sink }))
    variants.push({ name: `event line, ${format}`, once: () => events.emitTransaction(event), sink })
  }
  // Rounds interleaved and the best of each kept: on a busy machine the minimum is the cost.
  const best = variants.map(() => Infinity)
  for (let r = 0; r < 7; r++) variants.forEach((v, i) => (best[i] = Math.min(best[i] ?? Infinity, round(v, r === 0 ? 2000 : n))))
  variants.forEach((v, i) => {
    const size = v.sink.lines ? `${Math.round(v.sink.bytes / v.sink.lines)} B/line` : 'no line'
    process.stdout.write(`${v.name.padEnd(28)} ${(best[i] ?? 0).toFixed(2).padStart(6)} µs/line  ${size}\n`)
  })
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main()
