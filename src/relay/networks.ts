import { parseCidr } from '../config/units.js'
import { unmapIPv4 } from './ip.js'

export { unmapIPv4 }

/**
 * A set of IPv4 and IPv6 CIDR blocks that answers "is this address inside?". Blocks are
 * parsed once into 32-bit words; a lookup parses the address text into numbers and compares
 * masked words, with no objects made (node's BlockList wants a SocketAddress per lookup).
 * As with BlockList, an IPv4 address also matches IPv6 blocks in its IPv4-mapped form
 * (::ffff:a.b.c.d, RFC 4291 section 2.5.5.2), and an IPv4-mapped IPv6 address also matches IPv4 blocks.
 */
export class NetworkList {
  readonly size: number
  /** Per IPv4 block: network, mask. */
  readonly #v4: number[] = []
  /** Per IPv6 block: four network words, then four mask words. */
  readonly #v6: number[] = []

  constructor(cidrs: readonly string[]) {
    for (const entry of cidrs) {
      const parsed = parseCidr(entry)
      if (!parsed) throw new TypeError(`not a CIDR block: ${entry}`)
      if (parsed.family === 'ipv4') {
        const mask = maskWord(parsed.prefix)
        this.#v4.push((parseIPv4(parsed.address, 0, parsed.address.length) & mask) >>> 0, mask)
        continue
      }
      if (!parseIPv6(parsed.address, GROUPS)) throw new TypeError(`not a CIDR block: ${entry}`)
      const masks = [0, 1, 2, 3].map((w) => maskWord(Math.min(32, Math.max(0, parsed.prefix - 32 * w))))
      this.#v6.push(...[0, 1, 2, 3].map((w) => (word(w) & (masks[w] as number)) >>> 0), ...masks)
    }
    this.size = cidrs.length
  }

  /** True when the address (IPv4, IPv6 or IPv4-mapped IPv6) is in one of the blocks. */
  has(address: string): boolean {
    const v4 = parseIPv4(address, 0, address.length)
    if (v4 >= 0) return this.#has4(v4) || this.#has6(0, 0, 0xffff, v4)
    if (!parseIPv6(address, GROUPS)) return false
    const w0 = word(0)
    const w1 = word(1)
    const w2 = word(2)
    const w3 = word(3)
    if (w0 === 0 && w1 === 0 && w2 === 0xffff && this.#has4(w3)) return true
    return this.#has6(w0, w1, w2, w3)
  }

  #has4(ip: number): boolean {
    const list = this.#v4
    for (let i = 0; i < list.length; i += 2) {
      if (((ip & (list[i + 1] as number)) >>> 0) === list[i]) return true
    }
    return false
  }

  #has6(w0: number, w1: number, w2: number, w3: number): boolean {
    const list = this.#v6
    for (let i = 0; i < list.length; i += 8) {
      if (
        ((w0 & (list[i + 4] as number)) >>> 0) === list[i] &&
        ((w1 & (list[i + 5] as number)) >>> 0) === list[i + 1] &&
        ((w2 & (list[i + 6] as number)) >>> 0) === list[i + 2] &&
        ((w3 & (list[i + 7] as number)) >>> 0) === list[i + 3]
      ) {
        return true
      }
    }
    return false
  }
}

/** The eight 16-bit groups of the IPv6 address parsed last (one buffer, reused: lookups are synchronous). */
const GROUPS = new Uint16Array(8)

/** Word `w` (0–3) of the address in GROUPS, unsigned. */
const word = (w: number) => (((GROUPS[2 * w] as number) << 16) | (GROUPS[2 * w + 1] as number)) >>> 0

/** The 32-bit mask of the first `bits` bits (0–32), unsigned. */
const maskWord = (bits: number) => (bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0)

/** An IPv4 address in dotted-quad form within s[from, to) as an unsigned number; -1 if it is not one (no leading zeros, as node's isIPv4). */
function parseIPv4(s: string, from: number, to: number): number {
  let value = 0
  let part = 0
  let digits = 0
  let parts = 0
  for (let i = from; i <= to; i++) {
    const c = i < to ? s.charCodeAt(i) : 46
    if (c === 46) {
      if (digits === 0 || part > 255 || parts === 4) return -1
      value = value * 256 + part
      parts++
      part = 0
      digits = 0
    } else if (c >= 48 && c <= 57) {
      if (digits === 1 && part === 0) return -1
      part = part * 10 + (c - 48)
      if (++digits > 3) return -1
    } else {
      return -1
    }
  }
  return parts === 4 ? value : -1
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48
  if (c >= 97 && c <= 102) return c - 87
  if (c >= 65 && c <= 70) return c - 55
  return -1
}

/**
 * Parses IPv6 text (RFC 4291 section 2.2: "::" for a run of zero groups, an IPv4 tail) into
 * `out`'s eight groups; false if it is not an IPv6 address (a zone index included).
 */
function parseIPv6(s: string, out: Uint16Array): boolean {
  const n = s.length
  let count = 0
  let gap = -1
  let i = 0
  if (n < 2) return false
  if (s.charCodeAt(0) === 58) {
    if (s.charCodeAt(1) !== 58) return false
    gap = 0
    i = 2
  }
  while (i < n) {
    if (count === 8) return false
    const start = i
    let value = 0
    for (let h = hexDigit(s.charCodeAt(i)); h >= 0 && i < n; h = hexDigit(s.charCodeAt(++i))) value = value * 16 + h
    if (i < n && s.charCodeAt(i) === 46) {
      // The last 32 bits written as IPv4.
      if (count > 6) return false
      const v4 = parseIPv4(s, start, n)
      if (v4 < 0) return false
      out[count++] = v4 >>> 16
      out[count++] = v4 & 0xffff
      break
    }
    if (i === start || i - start > 4) return false
    out[count++] = value
    if (i === n) break
    if (s.charCodeAt(i) !== 58 || ++i === n) return false
    if (s.charCodeAt(i) === 58) {
      if (gap >= 0) return false
      gap = count
      i++
    }
  }
  if (gap < 0) return count === 8
  if (count === 8) return false
  // Move the groups after "::" to the end and zero the run it stands for.
  const after = count - gap
  for (let k = 1; k <= after; k++) out[8 - k] = out[count - k] as number
  for (let k = gap; k < 8 - after; k++) out[k] = 0
  return true
}
