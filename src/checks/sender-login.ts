import { z } from 'zod'
import { parseSenderPattern, parseSenderPatterns, senderMatches } from '../auth/sender-patterns.js'
import type { SenderPattern } from '../auth/sender-patterns.js'
import { senderLoginMismatch } from '../errors/replies.js'
import type { Verdict } from '../pipeline/types.js'
import { defineCheck } from '../pipeline/types.js'
import { actionFor, classActions, hitVerdict } from './class-action.js'

// Postfix's reject_sender_login_mismatch with smtpd_sender_login_maps: a login may use only the
// envelope senders mapped to it, so a stolen password cannot send as the ISP's other customers,
// or as a bank. The map comes from this check's `senders` and the credentials file's third field
// (their union). A login with neither falls back to `unmapped`.

/** Flag of a sender the login may not use. */
export const SENDER_LOGIN_MISMATCH = 'SENDER_LOGIN_MISMATCH'

const pattern = z
  .string()
  .refine((s) => parseSenderPattern(s) !== null, 'expected an address, @domain or .domain')
  .describe('An address (alice@example.com), a domain (@example.com) or its subdomains (.example.com)')

/** How many allowed senders a refusal names before it says "…". */
const NAMED = 3

/** mail.sender_login: an authenticated user's envelope sender must be mapped to its login. Verdicts: reject 553 5.7.1, tempfail, tag, continue. */
export const senderLogin = defineCheck({
  id: 'mail.sender_login',
  stage: 'mail',
  description:
    'An authenticated user may use only the envelope senders mapped to its login (here or in the credentials file); others get 553 5.7.1 (Postfix reject_sender_login_mismatch).',
  options: z.strictObject({
    senders: z
      .record(z.string().min(1), z.array(pattern).min(1))
      .default({})
      .describe('Login \u2192 envelope senders it may use; added to those its line in the credentials file lists (user:hash:sender,sender)'),
    unmapped: z
      .enum(['own_address', 'own_domain', 'none'])
      .default('own_address')
      .describe(
        'A login mapped nowhere: own_address lets a user name that is an address send as that address only; own_domain also as any address of its domain; none lets it send as no address (a null sender aside)',
      ),
    null_sender: z
      .enum(['allow', 'refuse'])
      .default('allow')
      .describe('The null sender <> (bounces, DSNs) from a login: allow, or treat it as a sender the login may not use'),
    mismatch: classActions('reject').describe('A sender the login may not use: action per client class (reject: 553 5.7.1; tempfail: 450 4.7.1; tag to only flag it)'),
  }),
  create: (config, deps) => {
    const mapped = new Map(Object.entries(config.senders).map(([user, list]) => [user, parseSenderPatterns(list)]))
    const allowedFor = (user: string): readonly SenderPattern[] => {
      const own = mapped.get(user)
      const listed = deps.credentials?.sendersOf(user)
      if (own && listed) return [...own, ...listed]
      return own ?? listed ?? unmappedSenders(user, config.unmapped)
    }
    return function senderLoginMatch(ctx): Verdict {
      const user = ctx.session.user
      if (!user) return { kind: 'continue', detail: 'not authenticated' }
      const sender = ctx.tx?.mailFrom ?? ''
      if (!sender && config.null_sender === 'allow') return { kind: 'continue', detail: 'null sender' }
      const allowed = allowedFor(user)
      const hit = sender ? allowed.find((p) => senderMatches(p, sender)) : undefined
      if (hit) return { kind: 'continue', detail: `${describe(hit)} mapped to ${user}` }
      return hitVerdict(actionFor(config.mismatch, ctx.session.clientClass), {
        flags: [SENDER_LOGIN_MISMATCH],
        detail: `<${sender}> not mapped to ${user}`,
        reply: () => senderLoginMismatch(sender, user, named(allowed)),
        tempReply: () => senderLoginMismatch(sender, user, named(allowed), true),
      })
    }
  },
})

/** The senders of a login mapped nowhere: its own address (and domain), when its name is an address. */
function unmappedSenders(user: string, rule: 'own_address' | 'own_domain' | 'none'): SenderPattern[] {
  const own = rule === 'none' ? null : parseSenderPattern(user)
  if (own?.kind !== 'address') return []
  // The parsed address's domain is already in its compared (Unicode) form: taken as it is.
  return rule === 'own_domain' ? [own, { kind: 'domain', domain: own.address.slice(own.address.lastIndexOf('@') + 1) }] : [own]
}

function describe(p: SenderPattern): string {
  return p.kind === 'address' ? `<${p.address}>` : p.kind === 'domain' ? `@${p.domain}` : p.suffix
}

/** The allowed senders as a refusal names them: "<a@x>, @y or .z", at most NAMED of them (replies stay ASCII). */
function named(allowed: readonly SenderPattern[]): string {
  const names = allowed.slice(0, NAMED).map(describe)
  if (allowed.length > NAMED) names.push('...')
  return names.length > 1 ? `${names.slice(0, -1).join(', ')} or ${names.at(-1) ?? ''}` : (names[0] ?? '')
}
