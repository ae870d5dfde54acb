import { isIPv4, isIPv6 } from 'node:net'
import { compressIPv6, ipv6Groups, unmapIPv4 } from '../relay/ip.js'

export { canonicalAddress } from '../relay/ip.js'

/** What a limit counts per: the client address, its subnet, the authenticated user, the sender domain. */
export type Dimension = 'address' | 'subnet' | 'user' | 'sender_domain'

/** Prefix lengths of the `subnet` dimension: a customer line is usually one /24 (IPv4) or /64 (IPv6). */
const SUBNET_PREFIX = { ipv4: 24, ipv6: 64 } as const

/** "192.0.2.77" → "192.0.2.0/24"; "2001:db8:1:2:3::4" → "2001:db8:1:2::/64"; null for anything else. */
export function subnetOf(address: string): string | null {
  const a = unmapIPv4(address)
  if (isIPv4(a)) {
    const [x, y, z] = a.split('.')
    return `${x}.${y}.${z}.0/${SUBNET_PREFIX.ipv4}`
  }
  if (!isIPv6(a)) return null
  const groups = ipv6Groups(a).slice(0, 4)
  return `${compressIPv6([...groups, 0, 0, 0, 0])}/${SUBNET_PREFIX.ipv6}`
}
