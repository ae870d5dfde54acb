import { heldForReview, localError } from '../errors/replies.js'
import { RelayError } from '../errors/relay-error.js'
import type { SmtpReply } from '../errors/smtp-reply.js'
import { quarantineStoredFor } from '../metrics/scan-metrics.js'
import type { MessageData } from '../relay/message.js'
import { normalizeLineEndings } from '../relay/message.js'
import { headerFields } from '../scan/header-fields.js'
import type { Session } from '../smtp/session.js'
import type { QuarantineEntry } from './store.js'

// The quarantine at the end of DATA. A held message gets a 5xx that says it is held for
// review (the client keeps no copy to retry, and nothing was delivered: DESIGN invariant 2);
// `smarthost-guard quarantine release` may deliver it later. A message the store cannot keep is
// deferred with 451 4.3.0, since holding it was the decision and the fault is ours.

function entryFor(session: Session, message: MessageData, kind: QuarantineEntry['kind'], reason: string, reply: SmtpReply) {
  const tx = session.tx
  const record = session.record
  return {
    id: tx?.id ?? record.id,
    kind,
    instance: record.instance,
    client: { address: record.client.address, ptr: record.client.ptr },
    user: record.user,
    sender: tx?.mailFrom ?? '',
    recipients: (tx?.rcpts ?? []).filter((r) => r.accepted).map((r) => r.address),
    subject: headerFields(message).decoded('subject'),
    reason,
    reply: reply.toString(),
    hits: tx?.scan?.hits ?? [],
    flags: [...record.flags, ...(tx?.flags ?? [])],
  }
}

/** Why a message is held: a short reason token, and what the client is told (the reason when absent). */
export interface HoldCause {
  reason: string
  description?: string
}

/**
 * Keeps a message for review and returns the reply for the client: 554 5.7.1 "held for
 * review" when it is on disk, 451 4.3.0 when there is no store or it failed.
 */
export async function holdForReview(session: Session, message: MessageData, { reason, description }: HoldCause): Promise<SmtpReply> {
  const store = session.policy.quarantine
  if (!store) {
    session.log.error({ reason }, 'quarantine requested but no quarantine store is configured')
    return localError()
  }
  const reply = heldForReview(description ?? reason, reason)
  try {
    const kept = await store.keep(entryFor(session, message, 'held', reason, reply), normalizeLineEndings(message))
    quarantineStoredFor(session.record.instance, 'held').inc()
    session.log.info({ quarantine: kept.file, reason }, 'message held for review')
    return reply
  } catch (err) {
    const fault = new RelayError('RELAY_ERR_QUARANTINE', [session.tx?.id ?? '', (err as Error).message], { cause: err })
    session.log.error({ err: fault, code: fault.code }, fault.message)
    return localError()
  }
}

/**
 * Keeps a message refused at the end of DATA as evidence, when the policy asks for it. A
 * failure is logged and changes nothing: the refusal stands.
 */
export async function keepRefused(session: Session, message: MessageData, reply: SmtpReply): Promise<void> {
  const store = session.policy.quarantine
  const config = session.policy.config.quarantine
  if (!store || !config?.keep_refused || message.raw.length === 0) return
  try {
    await store.keep(entryFor(session, message, 'refused', reply.reason, reply), normalizeLineEndings(message))
    quarantineStoredFor(session.record.instance, 'refused').inc()
  } catch (err) {
    const fault = new RelayError('RELAY_ERR_QUARANTINE', [session.tx?.id ?? '', (err as Error).message], { cause: err })
    session.log.error({ err: fault, code: fault.code }, fault.message)
  }
}
