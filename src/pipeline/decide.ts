import type { InstanceConfig } from '../config/schema.js'
import { scoreReject, scoreTempfail } from '../errors/replies.js'
import type { SmtpReply } from '../errors/smtp-reply.js'
import type { Stage } from './types.js'

/**
 * Compares the combined score (session plus transaction) with the instance's thresholds, at
 * the stages listed in scoring.decide_at only, so the record already holds the sender and
 * recipients. A score never turns a tempfail already given in the transaction into a reject.
 */
export function decideScore(
  scoring: InstanceConfig['scoring'],
  stage: Stage,
  score: number,
  tempfailedBefore: boolean,
): { kind: 'reject' | 'tempfail'; reply: SmtpReply; check: 'score' } | null {
  if (!scoring.decide_at.includes(stage)) return null
  const { reject_at: rejectAt, tempfail_at: tempfailAt } = scoring
  if (rejectAt !== null && score >= rejectAt) {
    const reply = tempfailedBefore ? scoreTempfail(score, rejectAt) : scoreReject(score, rejectAt)
    return { kind: reply.isPermanent ? 'reject' : 'tempfail', reply, check: 'score' }
  }
  if (tempfailAt !== null && score >= tempfailAt) {
    return { kind: 'tempfail', reply: scoreTempfail(score, tempfailAt), check: 'score' }
  }
  return null
}
