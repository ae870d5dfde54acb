import { z } from 'zod'
import { tooManyRecipients } from '../errors/replies.js'
import { classCounts, forClass } from '../limits/rate-spec.js'
import { defineCheck } from '../pipeline/types.js'
import { dimensionRate, rateReply } from './dimension-rate.js'
import { dimensionRates } from './limit-common.js'

/**
 * rcpt.rate: recipients per client address, subnet, user and sender domain, per client class
 * (Postfix smtpd_client_recipient_rate_limit). Verdicts: tempfail 450 4.7.1 for this
 * recipient, with the limit and when to retry; continue.
 */
export const recipientRate = defineCheck({
  id: 'rcpt.rate',
  stage: 'rcpt',
  description: 'Recipient rate per address, subnet, user and sender domain, per client class: 450 4.7.1 over it.',
  options: z.strictObject({
    limits: dimensionRates(['address', 'subnet', 'user', 'sender_domain'], 'Recipients'),
  }),
  create: dimensionRate({
    check: 'rcpt.rate',
    unit: 'recipients',
    flag: 'RATE_RECIPIENT',
    reply: rateReply('Recipient', 450),
    dimensions: ['address', 'subnet', 'user', 'sender_domain'],
  }),
})

/**
 * rcpt.recipient_limit: recipients of one message, per client class (tighter than the
 * instance's limits.recipients_per_message for some classes). Verdicts: tempfail 452 4.5.3; continue.
 */
export const recipientLimit = defineCheck({
  id: 'rcpt.recipient_limit',
  stage: 'rcpt',
  description: 'Recipients per message, per client class: 452 4.5.3 beyond it (the client sends the rest in another message).',
  options: z.strictObject({ limits: classCounts('Recipients per message') }),
  create: ({ limits }) =>
    function recipientsPerMessage(ctx) {
      const max = forClass(limits, ctx.session.clientClass)
      const accepted = ctx.tx?.rcpts.filter((r) => r.accepted).length ?? 0
      if (max === null || accepted < max) return { kind: 'continue' }
      return {
        kind: 'tempfail',
        reply: tooManyRecipients(max),
        flags: ['LIMIT_RECIPIENTS_PER_MESSAGE'],
        detail: `${accepted} recipients accepted, limit ${max} for class ${ctx.session.clientClass}`,
      }
    },
})
