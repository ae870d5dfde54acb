import { domainToASCII } from 'node:url'
import { isIPv4, isIPv6 } from 'node:net'
import { expandIPv6, unmapIPv4 } from '../relay/ip.js'
import type { Resolver } from './resolver.js'
import type { ReturnCodes } from './return-codes.js'

/**
 * The name to look up for an address in an IP list (RFC 5782 section 2.1 and 2.4): IPv4 as
 * reversed octets, IPv6 as 32 reversed nibbles; an IPv4-mapped IPv6 address is its IPv4 form.
 *
 * @example ipQueryName('192.0.2.99', 'zen.example') // '99.2.0.192.zen.example'
 */
export function ipQueryName(address: string, zone: string): string {
  const plain = unmapIPv4(address)
  if (isIPv4(plain)) return `${plain.split('.').reverse().join('.')}.${zone}`
  if (!isIPv6(plain)) throw new TypeError(`not an IP address: ${address}`)
  return `${expandIPv6(plain).split('').reverse().join('.')}.${zone}`
}

/** The name to look up for a domain in a domain list (RFC 5782 section 2.2); null for no usable domain. */
export function domainQueryName(domain: string, zone: string): string | null {
  const ascii = domainToASCII(domain.trim().replace(/\.$/, '').toLowerCase())
  // A bare word or an address literal is not a domain a list can hold.
  if (!ascii || !ascii.includes('.') || /^\[.*\]$/.test(ascii) || isIPv4(ascii)) return null
  return `${ascii}.${zone}`
}

/** What one list said about one subject. */
export type ListResult =
  | { status: 'listed'; subLists: string[]; codes: string[] }
  | { status: 'clean' }
  /** No usable answer: a timeout, a server failure, or answers outside 127.0.0.0/8. */
  | { status: 'error'; reason: string }

/** Looks a query name up in a list and reads the answer with the list's return codes; `fresh` skips the cache. */
export async function lookupList(resolver: Resolver, name: string, codes: ReturnCodes, opts?: { fresh?: boolean }): Promise<ListResult> {
  let addresses: string[]
  try {
    addresses = (await resolver.resolve(name, 'A', opts)) as string[]
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOTFOUND' || code === 'ENODATA') return { status: 'clean' }
    return { status: 'error', reason: code === 'ETIMEOUT' ? 'timeout' : (code ?? String(err)) }
  }
  const { subLists, codes: listed, errors } = codes.classify(addresses)
  if (subLists.length) return { status: 'listed', subLists, codes: listed }
  return { status: 'error', reason: `answered ${errors.join(', ')} (not a listing)` }
}
