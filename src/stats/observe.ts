import type { SessionEvent, TransactionEvent } from '../events/types.js'
import { subnetOf } from '../limits/dimensions.js'
import type { SessionRecord } from '../pipeline/record.js'
import type { CheckResult } from '../pipeline/types.js'
import { FLAG_RELAY_NOT_AUTHORIZED } from '../checks/spf-two-sided.js'
import { refusalReason } from './counters.js'
import type { CounterName, RefusalReason } from './counters.js'
import type { Observation } from './client-stats.js'
import type { ClientKey } from './store.js'

/** The client keys an event counts for: address and subnet always, user and sender domain when known. */
export function clientKeys(session: SessionRecord, user: string | null = session.user, mailFrom?: string): ClientKey[] {
  const keys: ClientKey[] = [`address:${session.client.address}`]
  const subnet = subnetOf(session.client.address)
  if (subnet) keys.push(`subnet:${subnet}`)
  if (user) keys.push(`user:${user}`)
  const at = mailFrom ? mailFrom.lastIndexOf('@') : -1
  if (mailFrom && at > 0) keys.push(`sender_domain:${mailFrom.slice(at + 1).toLowerCase()}`)
  return keys
}

/** The refusal reason of an event: its check's, else what its reply says (`next-hop`, `penalty-box`, …). */
function reasonOf(check: string | null, replyReason: string | undefined): RefusalReason {
  if (check) return refusalReason(check)
  if (replyReason === 'next-hop' || replyReason?.startsWith('next-hop')) return 'next_hop'
  return refusalReason(replyReason?.replace(/-/g, '_'))
}

/** What a finished transaction adds to its client keys (null: an aborted one with nothing in it). */
export function transactionObservation(e: TransactionEvent): Observation | null {
  const { tx } = e
  const outcome = tx.outcome ?? 'aborted'
  if (outcome === 'aborted' && !tx.rcpts.length) return null
  const counts: Partial<Record<CounterName, number>> = { transactions: 1, recipients: tx.rcpts.length }
  if (outcome === 'delivered') counts.accepted = 1
  else if (outcome === 'rejected' || outcome === 'quarantined') counts.refused = 1
  else if (outcome === 'tempfailed') counts.tempfailed = 1
  if (tx.mailFrom === '') counts.null_sender = 1
  if (tx.size) counts.bytes = tx.size
  const domains = [...new Set(tx.rcpts.map((r) => r.domain).filter(Boolean))]
  const o: Observation = { at: e.time, counts, recipientDomains: domains }
  if (tx.flags.includes(FLAG_RELAY_NOT_AUTHORIZED)) {
    // The sender domain's key counts it and remembers who sent it: the customer to talk to.
    counts.spf_relay_not_authorized = 1
    o.spfRelayClient = e.session.user ? `user:${e.session.user}` : `address:${e.session.client.address}`
  }
  const reply = e.reply ? `${e.reply.code} ${e.reply.enhanced} ${e.reply.text}` : (tx.reply ?? '')
  if (outcome === 'rejected' || outcome === 'tempfailed' || outcome === 'quarantined') {
    // A transaction whose every recipient was refused ends without a reply of its own: its RCPT refusal says why.
    const refusing = e.check ? null : lastRefusal(tx.checks)
    const check = e.check ?? refusing?.check ?? null
    o.refusal = { reason: reasonOf(check, e.reply?.reason), check: check ?? e.reply?.reason ?? 'other', reply: reply || refusing?.reply || '' }
  }
  if (outcome !== 'aborted') {
    o.sample = {
      at: e.time,
      id: tx.id,
      outcome,
      from: tx.mailFrom,
      recipientDomains: domains.slice(0, 10),
      ...(tx.evidence?.subject ? { subject: tx.evidence.subject.slice(0, 200) } : {}),
      ...(tx.evidence?.messageId ? { messageId: tx.evidence.messageId.slice(0, 200) } : {}),
      ...(reply ? { reply } : {}),
    }
  }
  return o
}

/** The last refusal a check gave in a record (not in warn mode). */
function lastRefusal(checks: readonly CheckResult[]): CheckResult | undefined {
  for (let i = checks.length - 1; i >= 0; i--) {
    const c = checks[i]!
    if (!c.warn && (c.outcome === 'reject' || c.outcome === 'tempfail' || c.outcome === 'quarantine')) return c
  }
  return undefined
}

/**
 * What a session outcome adds: a connection when it ends, an AUTH success or failure (also
 * under the user tried, so an attacked account shows), a refusal before MAIL.
 */
export function sessionObservation(e: SessionEvent): { keys: ClientKey[]; observation: Observation } | null {
  const at = e.time
  if (e.outcome === 'disconnected') return { keys: clientKeys(e.session), observation: { at, counts: { connections: 1 } } }
  if (e.outcome === 'authenticated') return { keys: clientKeys(e.session, e.user ?? e.session.user), observation: { at, counts: { auth_successes: 1 } } }
  const reply = e.reply ? `${e.reply.code} ${e.reply.enhanced} ${e.reply.text}` : ''
  if (e.stage === 'auth') {
    return {
      keys: clientKeys(e.session, e.user || null),
      observation: { at, counts: { auth_failures: 1 }, refusal: { reason: 'auth', check: e.check ?? 'auth', reply } },
    }
  }
  return {
    keys: clientKeys(e.session),
    observation: { at, counts: { refused: 1 }, refusal: { reason: reasonOf(e.check, e.reply?.reason), check: e.check ?? e.reply?.reason ?? e.stage, reply } },
  }
}
