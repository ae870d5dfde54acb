import { spf } from 'mailauth/lib/spf/index.js'
import type { SpfResultName } from 'mailauth/lib/spf/index.js'
import { withDeadline } from '../pipeline/deadlines.js'
import type { Resolver } from './resolver.js'

export type { SpfResultName }

/** What an SPF evaluation (RFC 7208) found; the inbound check writes it into trace fields. */
export interface SpfOutcome {
  result: SpfResultName
  /** The domain evaluated: the sender's, or the HELO name's for the null sender. */
  domain: string
  /** Why, in words: "relay.test: domain of a@b designates 192.0.2.1 as permitted sender"; may be empty. */
  comment: string
}

/** One evaluation: `sender` is MAIL FROM, or postmaster@<helo> for the null sender (identity helo). */
export interface SpfQuery {
  sender: string
  identity: 'mailfrom' | 'helo'
  ip: string
  helo: string
  /** Our host name: in comments and as the receiver. */
  hostname: string
}

/** What an evaluation past its deadline rejects with (one instance: it is an outcome, not a fault). */
const EXPIRED = new Error('SPF deadline passed')
const expired = () => EXPIRED

/**
 * Evaluates SPF with mailauth through the relay's resolver. `deadlineMs` bounds the whole
 * evaluation (up to 10 DNS lookups): past it the result is temperror, as for a DNS timeout.
 */
export async function evaluateSpf(resolver: Resolver, query: SpfQuery, deadlineMs: number): Promise<SpfOutcome> {
  const evaluation = spf({
    sender: query.sender,
    ip: query.ip,
    helo: query.helo,
    mta: query.hostname,
    resolver: (name, rrtype) => resolver.resolve(name, rrtype),
  })
  // The pipeline's shared deadline sweep, not a timer per egress address and message.
  const r = await withDeadline(evaluation, deadlineMs, expired).catch((err: unknown) => {
    if (err === EXPIRED) return null
    throw err
  })
  if (r) return { result: r.status.result, domain: r.domain, comment: r.status.comment ?? '' }
  // The domain as mailauth would have named it: after the last @, or "-" for none.
  const domain = query.sender.slice(query.sender.lastIndexOf('@') + 1).trim().toLowerCase() || '-'
  return { result: 'temperror', domain, comment: `${query.hostname}: SPF evaluation for ${domain} took longer than ${deadlineMs} ms` }
}
