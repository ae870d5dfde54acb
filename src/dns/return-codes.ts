import { isIPv4 } from 'node:net'

// What a DNS list's answer means. RFC 5782 section 2.3: a listed entry has A records in
// 127.0.0.0/8, and combined lists tell their sub-lists apart by the last octets (Spamhaus ZEN:
// 127.0.0.2 SBL, 127.0.0.4-7 XBL, 127.0.0.10-11 PBL). Answers outside 127.0.0.0/8, and
// Spamhaus's 127.255.255.0/24 ("your query was refused"), say nothing about the address.

/** A return-code pattern: "127.0.0.2", a range "127.0.0.4-127.0.0.7", or octet wildcards "127.0.*.3". */
export const CODE_PATTERN = /^(\d{1,3}|\*)(\.(\d{1,3}|\*)){3}(-\d{1,3}(\.\d{1,3}){3})?$/

type Matcher = (code: number) => boolean

const toInt = (address: string) => address.split('.').reduce((n, o) => n * 256 + Number(o), 0)

/** A predicate over an IPv4 address as a 32-bit number; null when the pattern is malformed. */
export function parseCodePattern(pattern: string): Matcher | null {
  if (!CODE_PATTERN.test(pattern)) return null
  const [from = '', to] = pattern.split('-')
  if (to !== undefined) {
    if (!isIPv4(from) || !isIPv4(to) || toInt(from) > toInt(to)) return null
    const [lo, hi] = [toInt(from), toInt(to)]
    return (code) => code >= lo && code <= hi
  }
  const octets = from.split('.')
  if (octets.some((o) => o !== '*' && Number(o) > 255)) return null
  return (code) => octets.every((o, i) => o === '*' || Number(o) === Math.floor(code / 256 ** (3 - i)) % 256)
}

/** A list's return-code map: patterns to sub-list names, matched in order. */
export class ReturnCodes {
  readonly #entries: { match: Matcher; name: string }[]
  readonly #listName: string

  /** `codes` must hold valid patterns (the schema checks them). */
  constructor(listName: string, codes: Readonly<Record<string, string>>) {
    this.#listName = listName
    this.#entries = Object.entries(codes).map(([pattern, name]) => {
      const match = parseCodePattern(pattern)
      if (!match) throw new TypeError(`not a return-code pattern: ${pattern}`)
      return { match, name }
    })
  }

  /** The sub-list names this map knows (for checking a policy's per-sub-list actions). */
  get names(): string[] {
    return [...new Set(this.#entries.map((e) => e.name))]
  }

  /**
   * Reads the A records of a DNS list answer: the sub-lists they name (unmapped codes are
   * named by the code itself; without a map every code is the list's own name), and the
   * answers that are errors rather than listings.
   */
  classify(addresses: readonly string[]): { subLists: string[]; codes: string[]; errors: string[] } {
    const subLists: string[] = []
    const codes: string[] = []
    const errors: string[] = []
    for (const a of addresses) {
      if (!isIPv4(a) || !a.startsWith('127.') || a.startsWith('127.255.255.')) {
        errors.push(a)
        continue
      }
      codes.push(a)
      const code = toInt(a)
      const name = this.#entries.length === 0 ? this.#listName : (this.#entries.find((e) => e.match(code))?.name ?? a)
      if (!subLists.includes(name)) subLists.push(name)
    }
    return { subLists, codes, errors }
  }
}
