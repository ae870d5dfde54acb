import type { SessionRecord, TransactionRecord } from '../pipeline/record.js'
import type { HeaderField } from '../pipeline/types.js'

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat']
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']

/** RFC 5322 date-time in UTC: "Sun, 22 Nov 2026 23:52:00 +0000". */
export function rfc5322Date(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0')
  return (
    `${DAYS[d.getUTCDay()]}, ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`
  )
}

/** Keeps a client-supplied HELO name from breaking the header: printable, no spaces, bounded. */
function cleanHelo(helo: string | null): string {
  const clean = (helo ?? '').replace(/[^\x21-\x7e]/g, '').slice(0, 255)
  return clean || 'unknown'
}

/**
 * The trace header we add (RFC 5321 section 4.4), with the protocol keyword of RFC 3848
 * (ESMTP, ESMTPS, ESMTPA, ESMTPSA). The recipient appears only for a single-recipient
 * message, so a Bcc'd list is not disclosed.
 */
export function receivedHeader(
  session: SessionRecord,
  tx: TransactionRecord,
  opts: { hostname: string; esmtp: boolean; recipients: readonly string[]; date?: Date },
): string {
  const client = session.client
  const literal = client.address.includes(':') ? `IPv6:${client.address}` : client.address
  const lines = [`Received: from ${cleanHelo(session.helo)} (${client.ptr ?? 'unknown'} [${literal}])`]
  if (session.tls) lines.push(`\t(using ${session.tls.protocol} with cipher ${session.tls.cipher})`)
  if (session.user) lines.push(`\t(authenticated sender: ${session.user.replace(/[^\x21-\x7e]/g, '')})`)
  const proto = (opts.esmtp ? 'ESMTP' : 'SMTP') + (session.tls && opts.esmtp ? 'S' : '') + (session.user ? 'A' : '')
  lines.push(`\tby ${opts.hostname} (smarthost-guard) with ${proto} id ${tx.id}`)
  const single = opts.recipients.length === 1 ? `for <${opts.recipients[0]}>` : ''
  lines.push(`\t${single ? `${single}; ` : ''}${rfc5322Date(opts.date ?? new Date())}`)
  return lines.join('\r\n') + '\r\n'
}

/**
 * Header fields added by checks, as wire text: names checked, values cleaned of line breaks
 * and control characters, folded at whitespace near 78 columns (RFC 5322 section 2.2.3).
 */
export function formatHeaders(fields: readonly HeaderField[]): string {
  return fields.map((f) => `${fold(`${f.name}: ${f.value.replace(CONTROL, ' ').trim()}`)}\r\n`).join('')
}

// A line break in a value would start a new header field (header injection).
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]+/g

function fold(line: string): string {
  if (line.length <= 78) return line
  const out: string[] = []
  let rest = line
  while (rest.length > 78) {
    const cut = rest.lastIndexOf(' ', 78)
    if (cut <= 0) break
    out.push(rest.slice(0, cut))
    rest = `\t${rest.slice(cut + 1)}`
  }
  out.push(rest)
  return out.join('\r\n')
}
