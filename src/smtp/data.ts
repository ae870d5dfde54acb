import type { Readable } from 'node:stream'
import { localError, relayed } from '../errors/replies.js'
import type { SmtpReply } from '../errors/smtp-reply.js'
import { dataReplyDurationFor } from '../metrics/relay-metrics.js'
import { holdForReview, keepRefused } from '../quarantine/hold.js'
import { normalizeLineEndings, readMessage } from '../relay/message.js'
import { addedFields, FORGED_FIELDS, withoutForgedFields } from '../relay/added-headers.js'
import { formatHeaders, receivedHeader } from '../relay/received.js'
import { headerFields } from '../scan/header-fields.js'
import type { Session } from './session.js'

/**
 * Handles DATA before-queue: read the message (size-capped), run the data stage, add our
 * Received header, send the message down the next-hop connection that took the recipients at
 * RCPT, and answer with what the next hop said.
 * Resolves with the 250 reply; throws the refusal otherwise. Nothing is acknowledged that a
 * next hop has not accepted.
 */
export async function relayMessage(session: Session, stream: Readable): Promise<SmtpReply> {
  const tx = session.tx
  if (!tx) throw localError()
  const policy = session.policy
  let message
  try {
    message = await readMessage(stream, policy.config.limits.message_size)
  } catch (err) {
    session.endTransaction('aborted')
    throw err
  }
  const started = performance.now()
  tx.timings.data = Date.now()
  tx.size = message.size
  if (session.env.events.wantsEvidence) {
    // Parsed once per message and shared with the header checks (headerFields caches it).
    const fields = headerFields(message)
    tx.evidence = { subject: fields.decoded('subject'), messageId: fields.values('message-id')[0] ?? null }
  }
  try {
    const decision = await session.dataChecks(message)
    if (decision?.kind === 'reject' || decision?.kind === 'tempfail') {
      if (decision.kind === 'reject') await keepRefused(session, message, decision.reply)
      throw session.refuseTransaction(decision.reply)
    }
    const quarantine = decision?.kind === 'quarantine' ? decision : tx.quarantine ? { reason: tx.quarantine } : null
    if (quarantine) {
      // Held on disk and refused with a reply that says so, or deferred if it cannot be held.
      const reply = await holdForReview(session, message, quarantine)
      throw session.refuseTransaction(reply, reply.isPermanent ? 'quarantined' : undefined)
    }
    const recipients = tx.rcpts.filter((r) => r.accepted).map((r) => r.address)
    // Fields checks add (Authentication-Results, Received-SPF, X-…) and our guard field go above
    // our Received, as RFC 8601 section 5 and RFC 7208 section 9.1 ask of trace fields.
    const settings = policy.config.added_headers
    // Forged copies of our fields are cut out, in the one copy the message gets anyway, and
    // the record says so: the abuse desk wants to know who forges them.
    const clean = normalizeLineEndings(message)
    const body = withoutForgedFields(clean, settings, policy.hostname)
    // Nothing was cut when the message itself comes back (a forged first field leaves one piece too).
    if (body[0] !== clean) tx.flags.push(FORGED_FIELDS)
    const added = formatHeaders(addedFields(settings, policy.hostname, session.record, tx))
    const header = receivedHeader(session.record, tx, { hostname: policy.hostname, esmtp: session.esmtp, recipients })
    const raw = Buffer.concat([Buffer.from(added + header, 'utf8'), ...body])
    const hop = session.nextHop
    if (!hop) throw session.refuseTransaction(localError())
    const result = await hop.data(raw)
    if (result.possibleDuplicate) tx.flags.push('NEXTHOP_POSSIBLE_DUPLICATE')
    tx.nextHop = {
      host: result.host ?? 'none',
      reply: result.reply.toString(),
      ms: Math.round(result.attempts.reduce((sum, a) => sum + a.ms, 0) * 10) / 10,
      attempts: result.attempts,
    }
    if (!result.accepted) throw session.refuseTransaction(result.reply)
    const reply = relayed(tx.id, result.reply.toString())
    session.endTransaction('delivered', reply)
    return reply
  } finally {
    dataReplyDurationFor(policy.name).observe((performance.now() - started) / 1000)
  }
}
