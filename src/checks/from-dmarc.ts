import { z } from 'zod'
import { duration } from '../config/units.js'
import { dkimAlignment, lookupDmarc, relaxedAligned, verifyDkim } from '../dns/dmarc.js'
import type { DkimAlignment, DkimVerification, DmarcLookup, DmarcPolicy } from '../dns/dmarc.js'
import { dmarcFromRefused, dnsLookupFailed, headerDeferred } from '../errors/replies.js'
import { dmarcLookupsFor } from '../metrics/dmarc-metrics.js'
import type { AuthResult, CheckDeps, StageContext, Verdict } from '../pipeline/types.js'
import { defineCheck } from '../pipeline/types.js'
import { splitAddress } from '../relay/address.js'
import { headerFields } from '../scan/header-fields.js'
import { actionFor, classActions, hitVerdict } from './class-action.js'

// DMARC-aware header From: a message whose From: domain is not the sender's own (not aligned,
// in DMARC's relaxed sense, with the envelope sender or the logged-in user) fails DMARC at its
// destination, unless a DKIM signature of that domain rescues it. When the domain publishes
// p=reject or p=quarantine, the destination refuses or junks it, and relaying it is the classic
// phishing shape (From: the bank, sent from a home line); we refuse it before it costs the
// ISP's egress its reputation. Domains without a record or with p=none are tagged.

/** Flags, by what the From: domain publishes. */
const FLAGS = {
  reject: 'FROM_DMARC_REJECT',
  quarantine: 'FROM_DMARC_QUARANTINE',
  none: 'FROM_DMARC_NONE',
  noRecord: 'FROM_DMARC_NO_RECORD',
  error: 'FROM_DMARC_ERROR',
} as const

/** One From: domain the message cannot align with, and what its DMARC record says. */
interface Finding {
  lookup: DmarcLookup
  /** The policy that applies to this message (after pct and t=y); `pass`: a DKIM signature aligns it. */
  applied: DmarcPolicy | 'no_record' | 'temperror' | 'pass'
  /** What verifying the domain's DKIM signatures found, when a refusal depended on it. */
  dkim?: DkimAlignment
}

/** From worst to mildest: the worst of several From: domains decides. */
const RANK: Finding['applied'][] = ['temperror', 'reject', 'quarantine', 'none', 'no_record', 'pass']

const OPTIONS = z.strictObject({
  reject: classActions('reject').describe('From: domain publishes p=reject (sp= for its subdomains): action per client class'),
  quarantine: classActions('reject').describe('From: domain publishes p=quarantine: action per client class'),
  none: classActions({ tag: 1 }).describe('From: domain publishes p=none (monitoring only): action per client class'),
  no_record: classActions({ tag: 1 }).describe('From: domain (and its organizational domain) publishes no DMARC record: action per client class'),
  partial: z
    .enum(['downgrade', 'apply'])
    .default('downgrade')
    .describe(
      'A record with pct below 100 or t=y (the owner is still rolling it out): downgrade applies the next milder policy (reject → quarantine → none), as receivers do for the mail outside pct; apply uses p= as it is',
    ),
  temperror: z
    .enum(['tempfail', 'continue'])
    .default('tempfail')
    .describe('The DMARC lookup failed or timed out: 451 4.4.3, or continue with a FROM_DMARC_ERROR flag; never a 5xx'),
  dkim: z
    .enum(['verify', 'ignore'])
    .default('verify')
    .describe(
      'Before refusing, verify the message\u2019s DKIM signatures by the From: domain (an ESP sending for its customer signs with the customer\u2019s domain): one that passes aligns the message; ignore: judge by the envelope and AUTH user alone',
    ),
  deadline: duration()
    .prefault('4s')
    .describe('Longest the lookups (the From: domain\u2019s record, then its organizational domain\u2019s, then any DKIM keys) may take together; past it the result is temperror'),
})

/**
 * data.from_dmarc: the From: header's domain against the envelope sender's and the AUTH user's
 * (relaxed alignment); when it aligns with neither, its DMARC policy decides. Verdicts per
 * class: reject (550 5.7.1) for p=reject and p=quarantine, tag for p=none and no record,
 * tempfail (451 4.4.3) when the lookup fails; adds a dmarc result to Authentication-Results.
 */
export const fromDmarc = defineCheck({
  id: 'data.from_dmarc',
  stage: 'data',
  description:
    'From: domain not aligned with the envelope sender or AUTH user: its DMARC p=reject or p=quarantine refuses the message (550 5.7.1), p=none or no record tags it; DNS failure: 451 4.4.3.',
  options: OPTIONS,
  create: (options, deps) =>
    async function fromDmarcHeader(ctx): Promise<Verdict> {
      const { message, tx, session } = ctx
      if (!message || !tx) return { kind: 'continue' }
      const identities = alignedIdentities(ctx)
      const unaligned = [...new Set(headerFields(message).addresses('from').map((a) => splitAddress(a).domain))].filter(
        (d) => d !== '' && !d.startsWith('[') && !relaxedAligned(d, identities),
      )
      if (unaligned.length === 0) return { kind: 'continue' }
      const until = performance.now() + options.deadline
      const findings = await Promise.all(
        unaligned.map(async (domain): Promise<Finding> => {
          const lookup = await lookupDmarc(deps.resolver, domain, options.deadline)
          return { lookup, applied: appliedPolicy(lookup, options.partial) }
        }),
      )
      if (options.dkim === 'verify') await rescueByDkim(findings, ctx, deps.resolver, Math.max(1, until - performance.now()))
      const worst = findings.reduce((a, b) => (RANK.indexOf(b.applied) < RANK.indexOf(a.applied) ? b : a))
      dmarcLookupsFor(session.instance, worst.applied).inc()
      const authResults = findings.flatMap(methodResults)
      const domain = worst.lookup.domain
      const sender = tx.mailFrom
      const detail = findings.map(describe).join(', ') + ` (not aligned with ${identities.join(', ') || 'any sender identity'})`
      if (worst.applied === 'pass') return { kind: 'continue', detail, authResults }
      if (worst.applied === 'temperror') {
        if (options.temperror === 'continue') return { kind: 'tag', score: 0, flags: [FLAGS.error], detail, authResults }
        const what = worst.dkim?.result === 'temperror' ? `the DKIM signature of ${domain}` : `the DMARC policy of ${domain}`
        // A DNS problem is never the sender's fault: at worst 4xx.
        return { kind: 'tempfail', reply: dnsLookupFailed(what), flags: [FLAGS.error], detail, authResults }
      }
      // The options are named for the policies: p= (or no record) picks its own action table.
      const action = actionFor(options[worst.applied], session.clientClass)
      // The text names what the domain publishes, even when a partial rollout applied a milder policy.
      const policy = worst.lookup.kind === 'record' ? worst.lookup.policy : 'none'
      const flag = worst.applied === 'no_record' ? FLAGS.noRecord : FLAGS[worst.applied]
      const verdict = hitVerdict(action, {
        flags: [flag],
        detail,
        reply: () => dmarcFromRefused(domain, policy, sender),
        tempReply: () => headerDeferred(`Header From: ${domain} publishes DMARC p=${policy} and this message cannot align with it`, 'dmarc-from'),
      })
      return { ...verdict, authResults }
    },
})

/**
 * The domains the From: domain may align with: the envelope sender's (the HELO name's for the
 * null sender, as SPF evaluates it) and the AUTH user's, when the user name is an address.
 */
function alignedIdentities({ tx, session }: StageContext): string[] {
  const ids: string[] = []
  const envelope = tx?.mailFrom ? splitAddress(tx.mailFrom).domain : (session.helo ?? '')
  if (envelope) ids.push(envelope.toLowerCase())
  const user = session.user ?? ''
  if (user.includes('@')) ids.push(splitAddress(user).domain)
  return ids
}

const DKIM_DOMAIN = /(?:^|;)\s*d\s*=\s*([^;\s]+)/i

/**
 * A From: domain whose policy would refuse the message is verified once more through its DKIM
 * signatures, when the message carries one by that domain (relaxed): a pass aligns the message
 * (DMARC passes at the destination), a temporary error defers it. Other findings stay as they are.
 */
async function rescueByDkim(findings: Finding[], { message }: StageContext, resolver: CheckDeps['resolver'], deadlineMs: number): Promise<void> {
  if (!message) return
  const refusing = findings.filter((f) => f.applied === 'reject' || f.applied === 'quarantine')
  if (refusing.length === 0) return
  const signers = headerFields(message)
    .values('dkim-signature')
    .map((v) => DKIM_DOMAIN.exec(v)?.[1]?.toLowerCase() ?? '')
    .filter((d) => d !== '')
  // One verification (body hash, key lookups) serves every From: domain, within the one deadline.
  let verification: Promise<DkimVerification> | undefined
  for (const f of refusing) {
    if (!signers.some((d) => relaxedAligned(f.lookup.domain, [d]))) continue
    f.dkim = dkimAlignment(await (verification ??= verifyDkim(resolver, message.raw, deadlineMs)), f.lookup.domain)
    if (f.dkim.result === 'pass') f.applied = 'pass'
    else if (f.dkim.result === 'temperror') f.applied = 'temperror'
  }
}

const MILDER: Record<DmarcPolicy, DmarcPolicy> = { reject: 'quarantine', quarantine: 'none', none: 'none' }

/** The policy that applies to this message: a partial rollout (pct < 100, t=y) downgrades it once. */
function appliedPolicy(lookup: DmarcLookup, partial: 'downgrade' | 'apply'): Finding['applied'] {
  if (lookup.kind === 'temperror') return 'temperror'
  if (lookup.kind === 'none') return 'no_record'
  const rollingOut = lookup.pct < 100 || lookup.testing
  return partial === 'downgrade' && rollingOut ? MILDER[lookup.policy] : lookup.policy
}

function describe({ lookup, applied, dkim }: Finding): string {
  if (dkim?.result === 'pass') return `${lookup.domain}: aligned by a DKIM signature of ${dkim.domain}`
  if (dkim?.result === 'temperror') return `${lookup.domain}: DKIM verification failed (${dkim.reason})`
  switch (lookup.kind) {
    case 'temperror':
      return `${lookup.domain}: DMARC lookup failed (${lookup.reason})`
    case 'none':
      return `${lookup.domain}: no DMARC record`
    case 'record': {
      const partial = lookup.pct < 100 ? ` pct=${lookup.pct}` : lookup.testing ? ' t=y' : ''
      const shown = applied === lookup.policy ? '' : ` (applied as ${applied})`
      return `${lookup.domain}: DMARC p=${lookup.policy}${partial}${lookup.orgRecord ? ' (organizational domain)' : ''}${shown}`
    }
  }
}

/**
 * The dmarc entry of Authentication-Results (RFC 7489 section 11.2), after the dkim entry of
 * the signature that aligned the message, if one did.
 */
function methodResults({ lookup, dkim }: Finding): AuthResult[] {
  const props = { 'header.from': lookup.domain }
  if (dkim?.result === 'pass' && lookup.kind === 'record') {
    return [
      { method: 'dkim', result: 'pass', props: { 'header.d': dkim.domain } },
      { method: 'dmarc', result: 'pass', comment: `p=${lookup.policy}`, props },
    ]
  }
  return [authResult(lookup, props)]
}

function authResult(lookup: DmarcLookup, props: Readonly<Record<string, string>>): AuthResult {
  switch (lookup.kind) {
    case 'temperror':
      return { method: 'dmarc', result: 'temperror', props }
    case 'none':
      return { method: 'dmarc', result: 'none', props }
    case 'record':
      return { method: 'dmarc', result: 'fail', comment: `p=${lookup.policy}`, props }
  }
}
