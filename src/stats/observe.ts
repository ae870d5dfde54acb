import { subnetOf } from '../limits/dimensions.js'
import type { SessionRecord, TransactionRecord } from '../pipeline/record.js'
import type { CheckResult } from '../pipeline/types.js'
import { refusalReason } from './counters.js'
import type { CounterName } from './counters.js'
import type { Observation } from './client-stats.js'
import type { ClientKey } from './store.js'

/** The client keys an event counts for: address and subnet always, user and sender domain when known. */
export function clientKeys(session: SessionRecord, mailFrom?: string): ClientKey[] {
  const keys: ClientKey[] = [`address:${session.client.address}`]
  const subnet = subnetOf(session.client.address)
  if (subnet) keys.push(`subnet:${subnet}`)
  if (session.user) keys.push(`user:${session.user}`)
  const at = mailFrom ? mailFrom.lastIndexOf('@') : -1
  if (mailFrom && at > 0) keys.push(`sender_domain:${mailFrom.slice(at + 1).toLowerCase()}`)
  return keys
}

/** The check whose refusal decided, if any: the last reject, tempfail or quarantine of the record. */
export function decidingCheck(checks: readonly CheckResult[]): CheckResult | undefined {
  for (let i = checks.length - 1; i >= 0; i--) {
    const c = checks[i]!
    if (!c.warn && (c.outcome === 'reject' || c.outcome === 'tempfail' || c.outcome === 'quarantine')) return c
  }
  return undefined
}

/** Optional message facts for the evidence samples. */
export interface MessageFacts {
  subject?: string
  messageId?: string
}

/** What a finished transaction adds to its client keys. */
export function transactionObservation(session: SessionRecord, tx: TransactionRecord, facts: MessageFacts = {}, at = Date.now()): Observation {
  const outcome = tx.outcome ?? 'aborted'
  const counts: Partial<Record<CounterName, number>> = { transactions: 1, recipients: tx.rcpts.length }
  if (outcome === 'delivered') counts.accepted = 1
  else if (outcome === 'rejected' || outcome === 'quarantined') counts.refused = 1
  else if (outcome === 'tempfailed') counts.tempfailed = 1
  if (tx.mailFrom === '') counts.null_sender = 1
  if (tx.size) counts.bytes = tx.size
  const domains = [...new Set(tx.rcpts.map((r) => r.domain).filter(Boolean))]
  const o: Observation = { at, counts, recipientDomains: domains }
  if (outcome === 'rejected' || outcome === 'tempfailed' || outcome === 'quarantined') {
    const check = decidingCheck(tx.checks)?.check ?? (tx.nextHop ? 'next_hop' : 'other')
    o.refusal = { reason: refusalReason(check), check, reply: tx.reply ?? '' }
  }
  if (outcome !== 'aborted') {
    o.sample = { at, id: tx.id, outcome, from: tx.mailFrom, recipientDomains: domains.slice(0, 10), ...facts, ...(tx.reply ? { reply: tx.reply } : {}) }
  }
  return o
}

/** How a session ended, for the statistics. */
export interface SessionEnd {
  /** The session was refused before any transaction (connect, TLS, HELO or AUTH), with this reply. */
  refusal?: { check: string; reply: string }
  authFailures: number
  authSuccesses: number
}

/** What a finished session adds to its client keys: a connection, its AUTH results, a refusal before MAIL. */
export function sessionObservation(end: SessionEnd, at = Date.now()): Observation {
  const counts: Partial<Record<CounterName, number>> = { connections: 1 }
  if (end.authFailures) counts.auth_failures = end.authFailures
  if (end.authSuccesses) counts.auth_successes = end.authSuccesses
  const o: Observation = { at, counts }
  if (end.refusal) {
    counts.refused = 1
    o.refusal = { reason: refusalReason(end.refusal.check), check: end.refusal.check, reply: end.refusal.reply }
  }
  return o
}
