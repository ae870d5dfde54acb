import type { AddedHeadersConfig } from '../config/added-headers-schema.js'
import type { SessionRecord, TransactionRecord } from '../pipeline/record.js'
import type { AuthResult, HeaderField } from '../pipeline/types.js'
import { headerEnd } from '../scan/header-fields.js'

// What the relay tells the next hops about a message it relays: the checks' combined score and
// flags (a header check's tag otherwise changes nothing downstream) and an Authentication-Results
// field for what was checked. Copies of these fields a client wrote itself are forgeries: a
// downstream filter that trusts them must only ever see ours.

const AR = 'Authentication-Results'

/** Flag of a message whose own copy of our guard field or Authentication-Results was removed. */
export const FORGED_FIELDS = 'HDR_FORGED_GUARD'
const CR = 0x0d
const LF = 0x0a

/**
 * The header fields to prepend: the checks' own fields, then Authentication-Results (merged
 * into one a check already wrote with our authserv-id) and the guard field, as configured.
 */
export function addedFields(
  settings: AddedHeadersConfig,
  hostname: string,
  session: Readonly<SessionRecord>,
  tx: Readonly<TransactionRecord>,
): HeaderField[] {
  const fields = [...session.headers, ...tx.headers]
  if (settings.authentication_results) {
    const results = [...(session.authResults ?? []), ...(tx.authResults ?? [])]
    if (results.length > 0) {
      const entries = results.map(methodEntry).join('; ')
      const own = fields.findIndex((f) => f.name.toLowerCase() === 'authentication-results' && authservId(f.value) === hostname.toLowerCase())
      const existing = fields[own]
      if (existing) fields[own] = { name: existing.name, value: `${existing.value}; ${entries}` }
      else fields.push({ name: AR, value: `${hostname}; ${entries}` })
    }
  }
  if (settings.guard) fields.push({ name: settings.guard_name, value: guardValue(session.score + tx.score, [...session.flags, ...tx.flags]) })
  return fields
}

/**
 * The guard field's value: `score=3.5; flags=SPF_SOFTFAIL,FROM_DMARC_NONE` (flags empty when none).
 *
 * @example guardValue(1, ['FROM_DMARC_NONE']) // 'score=1; flags=FROM_DMARC_NONE'
 */
export function guardValue(score: number, flags: readonly string[]): string {
  return `score=${Math.round(score * 100) / 100}; flags=${[...new Set(flags)].join(',')}`
}

/** One resinfo of RFC 8601 section 2.2: `method=result (comment) ptype.property=value …`. */
function methodEntry(r: AuthResult): string {
  const parts = [`${r.method}=${r.result}`]
  if (r.comment) parts.push(`(${r.comment.replace(/[\\()]/g, '\\$&')})`)
  for (const [prop, value] of Object.entries(r.props)) parts.push(`${prop}=${pvalue(value)}`)
  return parts.join(' ')
}

/** An RFC 8601 pvalue: a token or address as is, anything else as a quoted string. */
function pvalue(s: string): string {
  // eslint-disable-next-line no-control-regex
  const text = s.replace(/[\x00-\x1f\x7f]+/g, ' ').trim()
  return /[^\x21-\x7E]|[()<>,;:\\"/[\]?=]/.test(text.replace(/@/, '')) ? `"${text.replace(/[\\"]/g, '\\$&')}"` : text
}

/** The authserv-id an Authentication-Results value starts with (after any comment), lower case. */
function authservId(value: string): string {
  return (/^\s*(?:\([^)]*\)\s*)*([^\s;()]+)/.exec(value)?.[1] ?? '').toLowerCase()
}

/**
 * The message without the header fields `settings` says only we may write: the guard field,
 * and Authentication-Results with our authserv-id (RFC 8601 section 5). Returns the pieces to
 * send in order, slices of `raw` (no copy), or `[raw]` when there is nothing to remove.
 */
export function withoutForgedFields(raw: Buffer, settings: AddedHeadersConfig, hostname: string): Buffer[] {
  const names: string[] = []
  if (settings.guard) names.push(settings.guard_name.toLowerCase())
  if (settings.authentication_results) names.push('authentication-results')
  if (names.length === 0) return [raw]
  const end = headerEnd(raw)
  // latin1 maps each byte to one character, so string offsets are byte offsets.
  const head = raw.toString('latin1', 0, end)
  const lower = head.toLowerCase()
  if (!names.some((n) => lower.includes(n))) return [raw]
  const own = hostname.toLowerCase()
  const pieces: Buffer[] = []
  let kept = 0
  for (let start = 0; start < end; ) {
    const next = nextFieldStart(raw, head, start, end)
    const colon = head.indexOf(':', start)
    const name = colon > start && colon < next ? lower.slice(start, colon).trim() : ''
    const forged =
      (settings.guard && name === names[0]) ||
      (settings.authentication_results && name === 'authentication-results' && authservId(head.slice(colon + 1, next)) === own)
    if (forged) {
      if (start > kept) pieces.push(raw.subarray(kept, start))
      kept = next
    }
    start = next
  }
  if (kept === 0) return [raw]
  pieces.push(raw.subarray(kept))
  return pieces
}

/**
 * Where the field after the one at `start` begins: after a line break not followed by
 * whitespace (a folded line continues its field). The last field ends with the header's own
 * line break, so removing it leaves the empty line that ends the header in place.
 */
function nextFieldStart(raw: Buffer, head: string, start: number, end: number): number {
  let at = start
  for (;;) {
    const lf = head.indexOf('\n', at)
    // The last line: its line break is the one at `end` (CRLF or LF), if any.
    if (lf === -1 || lf + 1 >= end) return end + (raw[end] === CR && raw[end + 1] === LF ? 2 : raw[end] === LF ? 1 : 0)
    const c = head.charCodeAt(lf + 1)
    if (c !== 0x20 && c !== 0x09) return lf + 1
    at = lf + 1
  }
}
