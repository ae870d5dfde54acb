import { spf } from 'mailauth/lib/spf/index.js'
import type { SpfResultName } from 'mailauth/lib/spf/index.js'
import { withDeadline } from '../pipeline/deadlines.js'
import type { Resolver } from './resolver.js'

export type { SpfResultName }

/** What an SPF evaluation (RFC 7208) found, with the header fields that say so. */
export interface SpfOutcome {
  result: SpfResultName
  domain: string
  /** mailauth's explanation ("relay.test: domain of a@b designates 192.0.2.1 as permitted sender"). */
  comment: string
  /** Value of a Received-SPF field (RFC 7208 section 9.1). */
  receivedSpf: string
  /** The spf method entry of an Authentication-Results field (RFC 8601). */
  authResult: string
}

/** What an evaluation past its deadline rejects with (one instance: it is an outcome, not a fault). */
const EXPIRED = new Error('SPF deadline passed')
const expired = () => EXPIRED

const HOST = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)$/i

/** One evaluation: `sender` is MAIL FROM, or postmaster@<helo> for the null sender (identity helo). */
export interface SpfQuery {
  sender: string
  identity: 'mailfrom' | 'helo'
  ip: string
  helo: string
  /** Our host name: in comments and as the receiver. */
  hostname: string
}

/**
 * Evaluates SPF with mailauth through the relay's resolver. `deadlineMs` bounds the whole
 * evaluation (up to 10 DNS lookups): past it the result is temperror, as for a DNS timeout.
 */
export async function evaluateSpf(
  resolver: Resolver,
  query: SpfQuery,
  deadlineMs: number,
): Promise<SpfOutcome> {
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
  const domain = r?.domain ?? (query.sender.split('@').pop() || query.helo)
  if (!r) {
    const comment = `${query.hostname}: SPF evaluation for ${domain} took longer than ${deadlineMs} ms`
    return {
      result: 'temperror',
      domain,
      comment,
      receivedSpf: `temperror (${comment}) ${pairs(query)}`,
      authResult: `spf=temperror smtp.mailfrom=${query.sender}`,
    }
  }
  const unfolded = r.header.replace(/\r?\n[ \t]+/g, ' ')
  // mailauth gives "result (comment) client-ip=…;"; RFC 7208 section 9.1 asks for more pairs.
  const value = unfolded.replace(/^Received-SPF:\s*/i, '').replace(/\s*client-ip=[^;]*;?\s*$/, '')
  return {
    result: r.status.result,
    domain,
    comment: r.status.comment ?? '',
    receivedSpf: `${value} ${pairs(query)}`,
    authResult: r.info.replace(/\r?\n[ \t]+/g, ' '),
  }
}

/** The key-value pairs of Received-SPF; values a client chose are quoted or left out. */
function pairs(q: SpfQuery): string {
  const quoted = (s: string) => `"${s.replace(/[\\"]/g, '\\$&')}"`
  const list = [`client-ip=${q.ip}`, `envelope-from=${quoted(q.sender)}`]
  if (HOST.test(q.helo)) list.push(`helo=${q.helo}`)
  list.push(`receiver=${q.hostname}`, `identity=${q.identity}`)
  return `${list.join('; ')};`
}
