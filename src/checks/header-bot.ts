import { z } from 'zod'
import { bulkMailer, headerDeferred, missingDate, missingMessageId } from '../errors/replies.js'
import type { SmtpReply } from '../errors/smtp-reply.js'
import type { StageContext, Verdict } from '../pipeline/types.js'
import { defineCheck } from '../pipeline/types.js'
import { headerFields } from '../scan/header-fields.js'
import type { HitAction } from './class-action.js'
import { actionFor, classActions, hitVerdict } from './class-action.js'

// Bot signatures in the header: mail programs add Message-ID and Date (RFC 5322 section 3.6),
// spam bots that talk SMTP themselves often do not, and bulk mailers name themselves.

function missingField(
  field: string,
  flag: string,
  reply: () => SmtpReply,
): (options: { action: Readonly<Record<string, HitAction>> }) => (ctx: StageContext) => Verdict {
  return (options) =>
    function missingHeader({ message, session }) {
      if (!message || headerFields(message).values(field).some((v) => v.length > 0)) return { kind: 'continue' }
      return hitVerdict(actionFor(options.action, session.clientClass), {
        flags: [flag],
        detail: `no ${field} header`,
        reply,
        tempReply: () => headerDeferred(`Message has no ${field} header`, reply().reason),
      })
    }
}

/** data.missing_message_id: no Message-ID header. Verdicts per class: reject, tempfail, tag, ignore. */
export const missingMessageIdCheck = defineCheck({
  id: 'data.missing_message_id',
  stage: 'data',
  description: 'No Message-ID header (a bot signature: mail programs add one).',
  options: z.strictObject({ action: classActions({ tag: 2 }) }),
  create: missingField('Message-ID', 'HDR_NO_MESSAGE_ID', missingMessageId),
})

/** data.missing_date: no Date header. Verdicts per class: reject, tempfail, tag, ignore. */
export const missingDateCheck = defineCheck({
  id: 'data.missing_date',
  stage: 'data',
  description: 'No Date header (a bot signature: mail programs add one).',
  options: z.strictObject({ action: classActions({ tag: 2 }) }),
  create: missingField('Date', 'HDR_NO_DATE', missingDate),
})

const BULK_MAILERS = [
  'Atomic Mail Sender',
  'SendBlaster',
  'Advanced Mass Sender',
  'Mass ?Mail(er)?',
  'Bulk ?Mail(er)?',
  'MaxBulk',
  'Group ?Mail',
  'SuperMailer',
  'Turbo[ -]?Mailer',
  'Email Marketing Director',
  'Sendinator',
  'eMailMarketer',
  'Arclab MailList',
  'Bulk Email Sender',
]

/**
 * data.bulk_mailer: X-Mailer or User-Agent names known bulk-mailing software, which a home
 * or small-business line has no business running. Verdicts per class: reject, tempfail, tag, ignore.
 */
export const bulkMailerCheck = defineCheck({
  id: 'data.bulk_mailer',
  stage: 'data',
  description: 'X-Mailer or User-Agent of known bulk-mailing software.',
  options: z.strictObject({
    mailers: z
      .array(
        z.string().refine(
          (p) => {
            try {
              new RegExp(p, 'i')
              return true
            } catch {
              return false
            }
          },
          { error: (i) => `not a regular expression: ${JSON.stringify(i.input)}` },
        ),
      )
      .default(BULK_MAILERS)
      .describe('Patterns (case-insensitive regular expressions) of bulk mailer names; default: common bulk mailers'),
    action: classActions({ tag: 4 }),
  }),
  create: (options) => {
    const patterns = options.mailers.map((p) => new RegExp(p, 'i'))
    return function bulkMailerHeader({ message, session }): Verdict {
      if (!message) return { kind: 'continue' }
      const fields = headerFields(message)
      const mailer = [...fields.values('x-mailer'), ...fields.values('user-agent')].find((v) => patterns.some((p) => p.test(v)))
      if (!mailer) return { kind: 'continue' }
      const name = mailer.slice(0, 80)
      return hitVerdict(actionFor(options.action, session.clientClass), {
        flags: ['HDR_BULK_MAILER'],
        detail: `bulk mailer: ${name}`,
        reply: () => bulkMailer(name),
        tempReply: () => headerDeferred(`Message was sent with the bulk mailer "${name}"`, 'bulk-mailer'),
      })
    }
  },
})
