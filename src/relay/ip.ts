import { isIPv4, isIPv6 } from 'node:net'

// One set of IP address helpers for the relay: the client address, HELO literals, DNS list
// and PTR query names, limit keys. Addresses arrive written by different tools (node's
// sockets, PROXY headers, policy files, clients' HELO literals); compare them only in
// canonical form.

/**
 * The IPv4 address inside an IPv4-mapped IPv6 address (RFC 4291 section 2.5.5.2); other addresses unchanged.
 *
 * @example unmapIPv4('::ffff:192.0.2.1') // '192.0.2.1'
 */
export function unmapIPv4(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  return m?.[1] ?? address
}

/** The eight 16-bit groups of an IPv6 address (an embedded IPv4 tail becomes the last two). */
export function ipv6Groups(address: string): number[] {
  let text = address.toLowerCase()
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text)
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number]
    text = text.slice(0, v4.index) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head = '', tail] = text.split('::')
  const left = head ? head.split(':') : []
  const right = tail ? tail.split(':') : []
  const missing = tail === undefined ? 0 : 8 - left.length - right.length
  return [...left, ...Array<string>(missing).fill('0'), ...right].map((g) => parseInt(g, 16))
}

/**
 * The 32 hex digits of an IPv6 address, without colons: the nibbles of ip6.arpa (RFC 3596)
 * and of IPv6 DNS list queries (RFC 5782 section 2.4).
 *
 * @example expandIPv6('::1') // '00000000000000000000000000000001'
 */
export function expandIPv6(address: string): string {
  return ipv6Groups(address)
    .map((g) => g.toString(16).padStart(4, '0'))
    .join('')
}

/** RFC 5952 text of eight groups: lower case, the longest run of two or more zero groups as "::". */
export function compressIPv6(groups: readonly number[]): string {
  let best = { at: -1, len: 0 }
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > best.len && j - i > 1) best = { at: i, len: j - i }
    i = j
  }
  const hex = groups.map((g) => g.toString(16))
  if (best.at < 0) return hex.join(':')
  return `${hex.slice(0, best.at).join(':')}::${hex.slice(best.at + best.len).join(':')}`
}

/**
 * The canonical form of an address (RFC 5952 for IPv6, IPv4-mapped unwrapped); null if not an address.
 *
 * @example canonicalAddress('2001:DB8:0::1') // '2001:db8::1'
 */
export function canonicalAddress(address: string): string | null {
  const a = unmapIPv4(address.trim())
  if (isIPv4(a)) return a
  if (isIPv6(a)) return compressIPv6(ipv6Groups(a))
  return null
}

/** True when both are the same address however each is written; false when either is not an address. */
export function sameAddress(a: string, b: string): boolean {
  const x = canonicalAddress(a)
  return x !== null && x === canonicalAddress(b)
}
