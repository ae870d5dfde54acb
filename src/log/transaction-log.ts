import type { Logger } from 'pino'
import { transactionsFor } from '../metrics/relay-metrics.js'
import type { SessionRecord, TransactionRecord } from '../pipeline/record.js'

/**
 * Writes the one log line of a finished transaction: the full record as JSON fields, and as
 * `msg` a one-line summary in the spirit of Postfix's maillog, so `jq -r .msg` reads like it.
 * With `line` false it is only counted (a session over its smtp.logged_refusals).
 */
export function logTransaction(log: Logger, session: SessionRecord, tx: TransactionRecord, line = true): void {
  transactionsFor(session.instance, tx.outcome ?? 'aborted').inc()
  if (!line) return
  const level = tx.outcome === 'aborted' ? 'debug' : 'info'
  if (!log.isLevelEnabled(level)) return
  log[level]({ event: 'transaction', session: compact(session), tx: compact(tx) }, summaryLine(session, tx))
}

/** The record without its empty fields (null, false, 0, [], {}): a log line per message adds up. */
function compact(record: object): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(record)) {
    if (v === null || v === false || v === 0 || v === undefined) continue
    if (Array.isArray(v) ? v.length === 0 : typeof v === 'object' && Object.keys(v as object).length === 0) continue
    out[k] = v
  }
  return out
}

/** "ID: client=ptr[addr]:port, helo=<..>, user=.., from=<..>, to=<..>, size=N, …, status=… (reply)" */
function summaryLine(session: SessionRecord, tx: TransactionRecord): string {
  const parts = [
    `client=${session.client.ptr ?? 'unknown'}[${session.client.address}]:${session.client.port}`,
    `helo=<${session.helo ?? ''}>`,
  ]
  if (session.user) parts.push(`user=${session.user}`)
  parts.push(`from=<${tx.mailFrom}>`)
  const to = tx.rcpts.map((r) => `<${r.address}>${r.accepted ? '' : '!'}`)
  if (to.length) parts.push(`to=${to.join(',')}`)
  if (tx.size !== null) parts.push(`size=${tx.size}`)
  const score = session.score + tx.score
  if (score) parts.push(`score=${Math.round(score * 100) / 100}`)
  const flags = [...session.flags, ...tx.flags]
  if (flags.length) parts.push(`flags=${flags.join(',')}`)
  if (tx.nextHop) parts.push(`relay=${tx.nextHop.host}`)
  if (tx.timings.end) parts.push(`delay=${((tx.timings.end - tx.timings.start) / 1000).toFixed(3)}`)
  parts.push(`status=${STATUS[tx.outcome ?? 'aborted']}${tx.reply ? ` (${tx.reply})` : ''}`)
  return `${session.instance}/${session.listener} ${tx.id}: ${parts.join(', ')}`
}

const STATUS: Record<NonNullable<TransactionRecord['outcome']>, string> = {
  delivered: 'sent',
  rejected: 'reject',
  tempfailed: 'deferred',
  quarantined: 'quarantined',
  aborted: 'aborted',
}
