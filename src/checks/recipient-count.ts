import { tooManyRecipients } from '../errors/replies.js'
import { defineCoreCheck } from '../pipeline/types.js'

/**
 * rcpt.recipient_count (core): at most limits.recipients_per_message accepted recipients per
 * message. Verdicts: tempfail 452 4.5.3 (RFC 5321 section 4.5.3.1.10: the client sends the
 * rest in another transaction), or continue.
 */
export const recipientCount = defineCoreCheck({
  id: 'rcpt.recipient_count',
  stage: 'rcpt',
  description: 'Defers recipients beyond limits.recipients_per_message with 452 4.5.3.',
  core: ({ config }) => config.limits.recipients_per_message,
  create: (limit) =>
    function recipientLimit({ tx }) {
      const accepted = tx ? tx.rcpts.filter((r) => r.accepted).length : 0
      if (accepted < limit) return { kind: 'continue' }
      return { kind: 'tempfail', reply: tooManyRecipients(limit), flags: ['RCPT_COUNT_EXCEEDED'] }
    },
})
