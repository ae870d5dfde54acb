import type { Level, Logger } from 'pino'
import type { RelayEvents } from '../events/relay-events.js'
import type { SessionEvent, TransactionEvent } from '../events/types.js'
import type { SessionRecord, TransactionRecord } from '../pipeline/record.js'
import { logOutput } from './logger.js'
import { replyLine, sessionSummary, transactionSummary } from './summary.js'

/**
 * The logger as the first subscriber of the event stream: one line per session outcome and
 * per transaction, the summary first. In `text` the line is the summary; in `json` it is an
 * object whose `msg` is the summary, then `event` and the records (without what the summary or
 * another field already says, and without empty fields: a line per message adds up).
 * Returns the unsubscribe function.
 */
export function logEvents(events: RelayEvents, log: Logger): () => void {
  // A worker of `serve --workers N` says which one it is (a logger binding of its own).
  const worker = log.bindings().worker as unknown
  const tag = typeof worker === 'number' ? `"worker":${worker},` : ''
  const offSession = events.onSession((e) => write(log, 'info', sessionSummary, e, tag))
  const offTransaction = events.onTransaction((e) => write(log, e.tx.outcome === 'aborted' ? 'debug' : 'info', transactionSummary, e, tag))
  return () => {
    offSession()
    offTransaction()
  }
}

/** Writes an event's line; its summary is built only for a line that is written. */
function write<E extends SessionEvent | TransactionEvent>(log: Logger, level: Level, summarize: (e: E) => string, e: E, tag: string): void {
  // Over the session's smtp.logged_refusals: counted by the session, which logs how many at its end.
  if (e.quiet || !log.isLevelEnabled(level)) return
  const summary = summarize(e)
  const out = logOutput(log)
  if (!out) {
    // A logger the relay did not make (an embedding application's): through pino.
    log[level](fields(e), summary)
    return
  }
  const time = new Date(e.time).toISOString()
  if (out.format === 'text') out.writeLine(`${time} ${level} ${summary}\n`)
  else out.writeLine(`{"level":"${level}","time":"${time}",${tag}"msg":${JSON.stringify(summary)},${JSON.stringify(fields(e)).slice(1)}\n`)
}

function fields(e: SessionEvent | TransactionEvent): Record<string, unknown> {
  if (e.type === 'transaction') {
    return { event: 'transaction', ...(e.check ? { check: e.check } : {}), session: compactSession(e.session), tx: compactTx(e.tx) }
  }
  return {
    event: 'session',
    stage: e.stage,
    outcome: e.outcome,
    ...(e.check ? { check: e.check } : {}),
    ...(e.reply ? { reply: replyLine(e.reply) } : {}),
    ...(e.reason ? { reason: e.reason } : {}),
    ...(e.user !== null ? { user: e.user } : {}),
    session: compactSession(e.session),
  }
}

/** Fields of the records the log leaves out: in the summary or the message, or said twice. */
const SESSION_SKIP = new Set<string>(['headers'])
const TX_SKIP = new Set<string>(['headers', 'session', 'evidence'])

const compactSession = (s: SessionRecord) => compact(s, SESSION_SKIP)
const compactTx = (tx: TransactionRecord) => compact(tx, TX_SKIP)

/** The record without its empty fields (null, false, 0, [], {}). */
function compact(record: object, skip: ReadonlySet<string>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const k in record) {
    if (skip.has(k)) continue
    const v = (record as Record<string, unknown>)[k]
    if (v === null || v === false || v === 0 || v === undefined) continue
    if (typeof v === 'object' && (Array.isArray(v) ? v.length === 0 : isEmpty(v))) continue
    out[k] = v
  }
  return out
}

function isEmpty(o: object): boolean {
  for (const _ in o) return false
  return true
}
