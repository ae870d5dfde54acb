import { BlockList, isIPv4 } from 'node:net'
import { parseCidr } from '../config/units.js'
import { unmapIPv4 } from './ip.js'

export { unmapIPv4 }

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
