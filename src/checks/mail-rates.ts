import { z } from 'zod'
import { defineCheck } from '../pipeline/types.js'
import { dimensionRate, rateReply } from './dimension-rate.js'
import { dimensionRates } from './limit-common.js'

/**
 * mail.rate: messages (MAIL FROM) per client address, /24 (/64) subnet, authenticated user and
 * envelope sender domain, per client class (Postfix smtpd_client_message_rate_limit).
 * Verdicts: tempfail 451 4.7.1 with the limit and when to retry; continue.
 */
export const mailRate = defineCheck({
  id: 'mail.rate',
  stage: 'mail',
  description: 'Message rate per address, subnet, user and sender domain, per client class: 451 4.7.1 over it.',
  options: z.strictObject({
    limits: dimensionRates(['address', 'subnet', 'user', 'sender_domain'], 'Messages'),
  }),
  create: dimensionRate({
    check: 'mail.rate',
    unit: 'messages',
    flag: 'RATE_MESSAGE',
    reply: rateReply('Message', 451),
    dimensions: ['address', 'subnet', 'user', 'sender_domain'],
  }),
})

const NOT_A_BOUNCE = { kind: 'continue' } as const

/**
 * mail.null_sender_rate: bounces (MAIL FROM:<>) per client, per class: the Exchange server
 * doing backscatter. Verdicts: tempfail 451 4.7.1; continue.
 */
export const nullSenderRate = defineCheck({
  id: 'mail.null_sender_rate',
  stage: 'mail',
  description: 'Null-sender (bounce) message rate per address, subnet or user, per client class: 451 4.7.1 over it.',
  options: z.strictObject({
    limits: dimensionRates(['address', 'subnet', 'user'], 'Bounces'),
  }),
  create: dimensionRate({
    check: 'mail.null_sender_rate',
    unit: 'bounces',
    flag: 'RATE_NULL_SENDER',
    reply: rateReply('Bounce (null sender)', 451),
    dimensions: ['address', 'subnet', 'user'],
    skip: (ctx) => (ctx.tx?.mailFrom === '' ? null : NOT_A_BOUNCE),
  }),
})
