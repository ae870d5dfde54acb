import { domainToUnicode } from 'node:url'

/** An envelope address split for routing decisions. */
export interface AddressParts {
  local: string
  /** Lower case, Unicode form, no trailing dot; an address literal keeps its brackets. */
  domain: string
}

/**
 * Splits an envelope address at its last `@`. smtp-server has already refused addresses with
 * more than one `@` outside quotes, stripped source routes (RFC 5321 section 4.1.2) and
 * decoded punycode domains; the domainless `postmaster` (RFC 5321 section 4.1.1.3) has an
 * empty domain.
 */
export function splitAddress(address: string): AddressParts {
  const at = address.lastIndexOf('@')
  if (at < 0) return { local: address, domain: '' }
  return { local: address.slice(0, at), domain: normalizeDomain(address.slice(at + 1)) }
}

/** Lower-cases a domain and turns punycode into Unicode, so both spellings compare equal. */
export function normalizeDomain(domain: string): string {
  const d = domain.trim().replace(/\.$/, '').toLowerCase()
  if (d.startsWith('[')) return d
  // A domain of letters, digits, hyphens and dots, without an A-label or a last label that is
  // a number (read as an IPv4 address), comes back from the WHATWG host parser unchanged:
  // spare the call, one per address on every message.
  if (ASCII.test(d) && !d.includes('xn--') && !d.endsWith('.') && !NUMERIC.test(d.slice(d.lastIndexOf('.') + 1))) return d
  return domainToUnicode(d) || d
}

const ASCII = /^[a-z0-9._-]*$/
const NUMERIC = /^(?:\d+|0x[0-9a-f]*)$/

// Characters with which a local part asks the receiving host to route the message further:
// the percent hack (u%ext@relay), bang paths (ext!u@relay), a quoted "u@ext" and
// source-route colons. A next hop that honours them would make us an open relay.
const ROUTING = /[%!@:"\\]/

/** True when the local part carries sender-specified routing. */
export function hasRoutingCharacters(local: string): boolean {
  return ROUTING.test(local)
}
