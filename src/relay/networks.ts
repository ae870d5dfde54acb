import { BlockList, isIPv4 } from 'node:net'
import { parseCidr } from '../config/units.js'

/** A set of IPv4 and IPv6 CIDR blocks that answers "is this address inside?". */
export class NetworkList {
  readonly #list = new BlockList()
  readonly size: number

  constructor(cidrs: readonly string[]) {
    for (const entry of cidrs) {
      const parsed = parseCidr(entry)
      if (!parsed) throw new TypeError(`not a CIDR block: ${entry}`)
      this.#list.addSubnet(parsed.address, parsed.prefix, parsed.family)
    }
    this.size = cidrs.length
  }

  /** True when the address (IPv4, IPv6 or IPv4-mapped IPv6) is in one of the blocks. */
  has(address: string): boolean {
    const plain = unmapIPv4(address)
    return this.#list.check(plain, isIPv4(plain) ? 'ipv4' : 'ipv6')
  }
}

/** "::ffff:192.0.2.1" → "192.0.2.1"; other addresses unchanged. */
export function unmapIPv4(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  return m?.[1] ?? address
}
