import { z } from 'zod'
import { cidr } from '../config/units.js'
import { connectReject, connectTempfail, policyReject, policyTempfail } from '../errors/replies.js'
import { splitAddress } from '../relay/address.js'
import { NetworkList } from '../relay/networks.js'
import type { CheckFn, StageContext, Verdict } from '../pipeline/types.js'
import { defineCheck } from '../pipeline/types.js'

// Operator access lists (Postfix check_client_access / check_sender_access /
// check_recipient_access). Within one check, deny rules are evaluated before allow rules,
// whatever their order in the file: reject, then tempfail, then accept, then tag.

const ACTION_ORDER = ['reject', 'tempfail', 'accept', 'tag'] as const

const ruleFields = {
  action: z.enum(ACTION_ORDER).describe('What a match does; deny rules are evaluated before allow rules'),
  score: z.number().default(0).describe('Score added by a tag rule'),
  text: z.string().optional().describe('Reply text for reject and tempfail (550 5.7.1 / 450 4.7.1; at connect 554 5.7.1 / 421 4.7.1)'),
  flag: z
    .string()
    .regex(/^[A-Z][A-Z0-9_]*$/, 'use UPPER_SNAKE')
    .optional()
    .describe('Flag recorded on a match (default ACCESS_<ACTION>)'),
}

const addressRule = z.strictObject({
  match: z
    .array(z.string().min(1))
    .min(1)
    .describe('user@domain, user@, domain or @domain, .domain (its subdomains), <> (null sender)'),
  ...ruleFields,
})
const clientRule = z.strictObject({
  match: z.array(cidr()).min(1).describe('Client addresses and CIDR blocks'),
  ...ruleFields,
})

type Rule = { action: (typeof ACTION_ORDER)[number]; score: number; text?: string | undefined; flag?: string | undefined }

/** True when an envelope address matches an access pattern. */
export function matchesAddress(pattern: string, address: string): boolean {
  const p = pattern.trim().toLowerCase()
  const a = address.toLowerCase()
  if (p === '<>') return a === ''
  if (a === '') return false
  const { local, domain } = splitAddress(a)
  if (p.endsWith('@')) return local === p.slice(0, -1)
  if (p.includes('@') && !p.startsWith('@')) return a === p
  const d = p.replace(/^@/, '')
  if (d.startsWith('.')) return domain.endsWith(d)
  return domain === d
}

// At connect a refusal replaces the greeting: RFC 5321 section 3.1 allows 554, or 421 to defer.
const REPLIES = {
  connect: { reject: connectReject, tempfail: connectTempfail },
  other: { reject: policyReject, tempfail: policyTempfail },
}

function verdictFor(rule: Rule, subject: string, atConnect = false): Verdict {
  const flags = [rule.flag ?? `ACCESS_${rule.action.toUpperCase()}`]
  const detail = `${subject} matched a ${rule.action} rule`
  const replies = atConnect ? REPLIES.connect : REPLIES.other
  switch (rule.action) {
    case 'reject':
      return { kind: 'reject', reply: replies.reject(rule.text ?? `${subject}: Access denied by local policy`, 'access'), flags, detail }
    case 'tempfail':
      return { kind: 'tempfail', reply: replies.tempfail(rule.text ?? `${subject}: Deferred by local policy`, 'access'), flags, detail }
    case 'accept':
      return { kind: 'accept', detail, flags }
    case 'tag':
      return { kind: 'tag', score: rule.score, flags, detail }
  }
}

function ordered<R extends Rule>(rules: readonly R[]): R[] {
  return ACTION_ORDER.flatMap((action) => rules.filter((r) => r.action === action))
}

function addressAccess(pick: (ctx: StageContext) => string | undefined): (o: { rules: (Rule & { match: string[] })[] }) => CheckFn {
  return ({ rules }) => {
    const sorted = ordered(rules)
    return (ctx) => {
      const address = pick(ctx)
      if (address === undefined) return { kind: 'continue' }
      const rule = sorted.find((r) => r.match.some((m) => matchesAddress(m, address)))
      return rule ? verdictFor(rule, `<${address}>`) : { kind: 'continue' }
    }
  }
}

/** connect.client_access: rules on the client address. Verdicts: reject, tempfail, accept, tag, continue. */
export const clientAccess = defineCheck({
  id: 'connect.client_access',
  stage: 'connect',
  description: 'Operator rules on the client address (CIDR): reject, tempfail, accept or tag.',
  options: z.strictObject({ rules: z.array(clientRule).min(1).describe('Rules, deny before allow') }),
  create: ({ rules }) => {
    const sorted = ordered(rules).map((r) => ({ rule: r, nets: new NetworkList(r.match) }))
    return function clientAccessList({ session }) {
      const hit = sorted.find((r) => r.nets.has(session.client.address))
      return hit ? verdictFor(hit.rule, `[${session.client.address}]`, true) : { kind: 'continue' }
    }
  },
})

/** mail.sender_access: rules on the envelope sender. Verdicts: reject, tempfail, accept, tag, continue. */
export const senderAccess = defineCheck({
  id: 'mail.sender_access',
  stage: 'mail',
  description: 'Operator rules on the envelope sender: reject, tempfail, accept or tag.',
  options: z.strictObject({ rules: z.array(addressRule).min(1).describe('Rules, deny before allow') }),
  create: addressAccess((ctx) => ctx.tx?.mailFrom),
})

/** rcpt.recipient_access: rules on each recipient. Verdicts: reject, tempfail, accept, tag, continue. */
export const recipientAccess = defineCheck({
  id: 'rcpt.recipient_access',
  stage: 'rcpt',
  description: 'Operator rules on each recipient: reject, tempfail, accept or tag.',
  options: z.strictObject({ rules: z.array(addressRule).min(1).describe('Rules, deny before allow') }),
  create: addressAccess((ctx) => ctx.rcpt?.address),
})
