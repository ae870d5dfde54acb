import { z } from 'zod'
import { fromMismatch, headerDeferred, multipleFrom, replyToFreemail } from '../errors/replies.js'
import type { Verdict } from '../pipeline/types.js'
import { defineCheck } from '../pipeline/types.js'
import { splitAddress } from '../relay/address.js'
import { headerFields } from '../scan/header-fields.js'
import { actionFor, classActions, hitVerdict } from './class-action.js'
import { className } from '../classes/schema.js'
import { classEntry } from '../classes/per-class.js'

// Header screening in the spirit of Mail8: who the message says it is from, against who sent
// it. A customer's zombie typically sends as someone else (From: a bank, envelope a random
// address of the infected line), with a Reply-To: at a freemail mailbox for the answers.

const FROM_MATCH = ['same_address', 'same_domain', 'any'] as const
type FromMatch = (typeof FROM_MATCH)[number]

/** True when one domain is the other or a subdomain of it (bounces@mail.example.com ~ example.com). */
function relatedDomains(a: string, b: string): boolean {
  return a === b || a.endsWith(`.${b}`) || b.endsWith(`.${a}`)
}

/**
 * data.from_mismatch: the From: header against the envelope sender, as strict as the client
 * class asks (same address, same domain, any). The null sender (bounces) is not judged.
 * Verdicts per class: reject (550 5.7.1), tempfail, tag, ignore.
 */
export const fromMismatchCheck = defineCheck({
  id: 'data.from_mismatch',
  stage: 'data',
  description: 'From: header against the envelope sender (same address, same domain or any, per class): the zombie that sends as someone else.',
  options: z.strictObject({
    require: z
      .record(className(), z.enum(FROM_MATCH))
      .prefault({ default: 'same_domain' })
      .describe('How closely From: must match the envelope sender, per client class: same_address, same_domain (subdomains count) or any; "default" for the others'),
    action: classActions('reject'),
  }),
  create: (options) =>
    function fromMismatchHeader({ message, tx, session }): Verdict {
      if (!message || !tx || tx.mailFrom === '') return { kind: 'continue' }
      const required: FromMatch = classEntry(options.require, session.clientClass) ?? 'same_domain'
      if (required === 'any') return { kind: 'continue' }
      const from = headerFields(message).addresses('from')
      const sender = tx.mailFrom.toLowerCase()
      const senderDomain = splitAddress(sender).domain
      const matches = (a: string) => (required === 'same_address' ? a === sender : relatedDomains(splitAddress(a).domain, senderDomain))
      if (from.length === 0 || from.some(matches)) return { kind: 'continue' }
      const shown = from[0] ?? ''
      return hitVerdict(actionFor(options.action, session.clientClass), {
        flags: ['HDR_FROM_MISMATCH'],
        detail: `From: <${shown}> is not ${required.replace('_', ' ')} as <${tx.mailFrom}>`,
        reply: () => fromMismatch(shown, tx.mailFrom),
        tempReply: () => headerDeferred(`Header From: <${shown}> does not match the sender <${tx.mailFrom}>`, 'from-mismatch'),
      })
    },
})

/**
 * data.multiple_from: more than one From: header field (RFC 5322 allows one; bots and
 * header-injection scripts produce several). Verdicts per class: reject, tempfail, tag, ignore.
 */
export const multipleFromCheck = defineCheck({
  id: 'data.multiple_from',
  stage: 'data',
  description: 'Several From: header fields (RFC 5322 allows one).',
  options: z.strictObject({ action: classActions('reject') }),
  create: (options) =>
    function multipleFromHeader({ message, session }): Verdict {
      if (!message) return { kind: 'continue' }
      const count = headerFields(message).values('from').length
      if (count <= 1) return { kind: 'continue' }
      return hitVerdict(actionFor(options.action, session.clientClass), {
        flags: ['HDR_MULTIPLE_FROM'],
        detail: `${count} From: header fields`,
        reply: () => multipleFrom(count),
        tempReply: () => headerDeferred(`Message has ${count} From: header fields`, 'multiple-from'),
      })
    },
})

const FREEMAIL = [
  'gmail.com', 'googlemail.com', 'yahoo.com', 'yahoo.co.uk', 'yahoo.fr', 'ymail.com', 'hotmail.com', 'hotmail.co.uk',
  'outlook.com', 'live.com', 'msn.com', 'aol.com', 'icloud.com', 'me.com', 'mail.com', 'gmx.com', 'gmx.net', 'gmx.de',
  'web.de', 't-online.de', 'mail.ru', 'yandex.ru', 'yandex.com', 'proton.me', 'protonmail.com', 'zoho.com',
  'libero.it', 'orange.fr', 'qq.com', '163.com', 'rediffmail.com',
]

/**
 * data.reply_to_freemail: Reply-To: at a freemail domain that differs from the From: domain,
 * the answer channel of advance-fee and CEO fraud. Verdicts per class: reject, tempfail, tag, ignore.
 */
export const replyToFreemailCheck = defineCheck({
  id: 'data.reply_to_freemail',
  stage: 'data',
  description: 'Reply-To: at a freemail domain that differs from the From: domain (fraud answer channel).',
  options: z.strictObject({
    freemail_domains: z
      .array(z.string().min(1).toLowerCase())
      .default(FREEMAIL)
      .describe('Freemail domains (default: the large webmail providers)'),
    action: classActions({ tag: 3 }),
  }),
  create: (options) => {
    const freemail = new Set(options.freemail_domains)
    return function replyToFreemailHeader({ message, session }): Verdict {
      if (!message) return { kind: 'continue' }
      const fields = headerFields(message)
      const fromAddresses = fields.addresses('from')
      const fromDomains = fromAddresses.map((a) => splitAddress(a).domain)
      const replyTo = fields.addresses('reply-to').find((a) => {
        const domain = splitAddress(a).domain
        return freemail.has(domain) && !fromDomains.includes(domain)
      })
      if (!replyTo) return { kind: 'continue' }
      const from = fromAddresses[0] ?? ''
      return hitVerdict(actionFor(options.action, session.clientClass), {
        flags: ['HDR_REPLYTO_FREEMAIL'],
        detail: `Reply-To: <${replyTo}> is freemail, From: <${from}> is not`,
        reply: () => replyToFreemail(replyTo, from),
        tempReply: () => headerDeferred(`Reply-To: <${replyTo}> points to a freemail address unrelated to From:`, 'reply-to-freemail'),
      })
    }
  },
})
