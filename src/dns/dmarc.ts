import { domainToASCII } from 'node:url'
import { dkimVerify } from 'mailauth/lib/dkim/verify.js'
import getDmarcRecord from 'mailauth/lib/dmarc/get-dmarc-record.js'
import { getAlignment } from 'mailauth/lib/tools.js'
import { withDeadline } from '../pipeline/deadlines.js'
import type { Resolver } from './resolver.js'

/** The policy a From: domain asks receivers to apply to mail that fails DMARC (RFC 7489 section 6.3). */
export type DmarcPolicy = 'reject' | 'quarantine' | 'none'

/** What the DMARC lookup of a From: domain found. */
export type DmarcLookup =
  | { kind: 'record'; domain: string; policy: DmarcPolicy; pct: number; testing: boolean; record: string; orgRecord: boolean }
  | { kind: 'none'; domain: string }
  | { kind: 'temperror'; domain: string; reason: string }

const POLICIES: readonly string[] = ['reject', 'quarantine', 'none']
const EXPIRED = new Error('DMARC deadline passed')
const expired = () => EXPIRED

/**
 * True when `fromDomain` aligns with one of `identities` in DMARC's relaxed sense: the same
 * organizational domain (RFC 7489 section 3.1.1; mailauth's public suffix list).
 *
 * @example relaxedAligned('news.bank.test', ['bounces.bank.test']) // true
 */
export function relaxedAligned(fromDomain: string, identities: readonly string[]): boolean {
  const ids = identities.filter((d) => d !== '').map(toAscii)
  return ids.length > 0 && getAlignment(toAscii(fromDomain), ids, false) !== false
}

/**
 * The DMARC policy of a From: domain through the relay's resolver (its servers, cache and
 * metrics), with mailauth's organizational-domain fallback: `sp=` applies when the record is
 * the organizational domain's and the From: domain is a subdomain of it (RFC 7489 section 6.6.3).
 * A DNS failure, or no answer within `deadlineMs`, is a temperror.
 */
export async function lookupDmarc(resolver: Resolver, fromDomain: string, deadlineMs: number): Promise<DmarcLookup> {
  const domain = toAscii(fromDomain)
  let found
  try {
    found = await withDeadline(getDmarcRecord(domain, (name, rrtype) => resolver.resolve(name, rrtype)), deadlineMs, expired)
  } catch (err) {
    const reason = err === EXPIRED ? `no answer within ${deadlineMs} ms` : ((err as NodeJS.ErrnoException).code ?? String(err))
    return { kind: 'temperror', domain, reason }
  }
  if (!found) return { kind: 'none', domain }
  const requested = String((found.isOrgRecord && found.sp) || found.p || '').toLowerCase()
  // An unknown or missing p= leaves the record without a policy (RFC 7489 section 6.6.3 step 6).
  const policy = (POLICIES.includes(requested) ? requested : 'none') as DmarcPolicy
  const pct = typeof found.pct === 'number' && found.pct >= 0 && found.pct <= 100 && /\bpct\s*=/i.test(found.rr) ? found.pct : 100
  // DMARCbis' t=y: the domain owner is testing, receivers apply the next lower policy.
  const testing = String(found.t ?? '').trim().toLowerCase() === 'y'
  return { kind: 'record', domain, policy, pct, testing, record: found.rr, orgRecord: found.isOrgRecord }
}

/** The A-label form of a domain for DNS; the input when it is not a valid domain name. */
function toAscii(domain: string): string {
  const d = domain.trim().replace(/\.$/, '').toLowerCase()
  return domainToASCII(d) || d
}

/** What verifying the DKIM signatures of a From: domain found: `pass` aligns the message. */
export type DkimAlignment = { result: 'pass'; domain: string } | { result: 'fail' } | { result: 'temperror'; reason: string }

/** The message's DKIM signatures as verified, or why verifying them could not finish. */
export type DkimVerification = { kind: 'verified'; results: Awaited<ReturnType<typeof dkimVerify>>['results'] } | { kind: 'temperror'; reason: string }

/**
 * Verifies the message's DKIM signatures (mailauth, through the relay's resolver). The body is
 * hashed and the keys looked up: call it only when a refusal depends on it, and once per
 * message, whatever the number of From: domains judged against it (dkimAlignment).
 */
export async function verifyDkim(resolver: Resolver, raw: Buffer, deadlineMs: number): Promise<DkimVerification> {
  try {
    const verified = await withDeadline(dkimVerify(raw, { resolver: async (name, rrtype) => (await resolver.resolve(name, rrtype)) as string[][] }), deadlineMs, expired)
    return { kind: 'verified', results: verified.results }
  } catch (err) {
    return { kind: 'temperror', reason: err === EXPIRED ? `no answer within ${deadlineMs} ms` : String(err) }
  }
}

/**
 * Whether a verified signature that passes is aligned with `fromDomain` (relaxed): DMARC then
 * passes at the destination whatever the envelope (RFC 7489 section 4.2).
 */
export function dkimAlignment(verification: DkimVerification, fromDomain: string): DkimAlignment {
  if (verification.kind === 'temperror') return { result: 'temperror', reason: verification.reason }
  const aligned = verification.results.filter((r) => r.signingDomain && relaxedAligned(fromDomain, [r.signingDomain]))
  const pass = aligned.find((r) => r.status.result === 'pass')
  if (pass) return { result: 'pass', domain: pass.signingDomain }
  const temp = aligned.find((r) => r.status.result === 'temperror' || r.status.result === 'temperr')
  return temp ? { result: 'temperror', reason: `DKIM key of ${temp.signingDomain}: ${temp.status.comment ?? 'temporary error'}` } : { result: 'fail' }
}
