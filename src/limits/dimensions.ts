import { isIPv4, isIPv6 } from 'node:net'
import { unmapIPv4 } from '../relay/networks.js'

/** What a limit counts per: the client address, its subnet, the authenticated user, the sender domain. */
export type Dimension = 'address' | 'subnet' | 'user' | 'sender_domain'

/** Prefix lengths of the `subnet` dimension: a customer line is usually one /24 (IPv4) or /64 (IPv6). */
export const SUBNET_PREFIX = { ipv4: 24, ipv6: 64 } as const

/** "192.0.2.77" → "192.0.2.0/24"; "2001:db8:1:2:3::4" → "2001:db8:1:2::/64"; null for anything else. */
export function subnetOf(address: string): string | null {
  const a = unmapIPv4(address)
  if (isIPv4(a)) {
    const [x, y, z] = a.split('.')
    return `${x}.${y}.${z}.0/${SUBNET_PREFIX.ipv4}`
  }
  if (!isIPv6(a)) return null
  const groups = expandIPv6(a).slice(0, 4)
  return `${compressIPv6([...groups, 0, 0, 0, 0])}/${SUBNET_PREFIX.ipv6}`
}

/** The eight 16-bit groups of an IPv6 address (with an embedded IPv4 tail, if any). */
function expandIPv6(address: string): number[] {
  let text = address.toLowerCase()
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (v4?.[1]) {
    const [a = 0, b = 0, c = 0, d = 0] = v4[1].split('.').map(Number)
    text = text.slice(0, -v4[1].length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head = '', tail] = text.split('::')
  const h = head ? head.split(':') : []
  const t = tail ? tail.split(':') : []
  const missing = tail === undefined ? 0 : 8 - h.length - t.length
  return [...h, ...Array<string>(missing).fill('0'), ...t].map((g) => parseInt(g, 16))
}

/** RFC 5952 text of eight groups: lower case, the longest run of zero groups as "::". */
function compressIPv6(groups: number[]): string {
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

/** The canonical form of an address (RFC 5952 for IPv6, IPv4-mapped unwrapped); null if not an address. */
export function canonicalAddress(address: string): string | null {
  const a = unmapIPv4(address.trim())
  if (isIPv4(a)) return a
  if (isIPv6(a)) return compressIPv6(expandIPv6(a))
  return null
}
