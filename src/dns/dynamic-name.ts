import { isIPv4, isIPv6 } from 'node:net'
import { expandIPv6, unmapIPv4 } from '../relay/ip.js'

// Does a host name look like the generic name an ISP gives a dynamic or residential line?
// Two signs (the ones Spamhaus's PBL and the "generic rDNS" heuristics of Postfix and
// SpamAssassin sites use): the address itself written into the name, and labels such as
// dyn, dhcp, pool, dsl or ppp. A label such as static or mail says the line is not dynamic.

/** Labels ISPs use for dynamic and residential lines. */
export const DYNAMIC_LABELS = [
  'dyn', 'dynamic', 'dynip', 'dhcp', 'pool', 'cable', 'dsl', 'adsl', 'vdsl', 'xdsl', 'sdsl', 'ppp', 'pppoe', 'dial',
  'dialup', 'dip', 'cpe', 'res', 'residential', 'broadband', 'cust', 'customer', 'modem', 'fios', 'ftth', 'hsd', 'wireless',
  'mobile', 'home',
]

/** Labels that say a name belongs to a static line or a mail server. */
export const STATIC_LABELS = ['static', 'fixed', 'business', 'biz', 'mail', 'mx', 'smtp']

/** How the address is written into the name. */
export type Encoding = 'dotted' | 'dashed' | 'mixed' | 'run-together' | 'hex'

/** What a name says about the line it names. */
export interface NameAnalysis {
  /** How the client address appears in the name, or null. */
  encoding: Encoding | null
  /** Dynamic-line labels found in the name. */
  labels: string[]
  /** A static-line or mail-server label is present. */
  static: boolean
  /** The name looks like a dynamic or residential line's. */
  dynamic: boolean
}

/**
 * Reads a host name against the address it should belong to.
 *
 * @example analyzeName('pool-71-185-22-3.phlapa.fios.verizon.net', '71.185.22.3') // { encoding: 'dashed', labels: ['pool', 'fios'], static: false, dynamic: true }
 */
export function analyzeName(
  name: string,
  address: string,
  words: { dynamic?: readonly string[]; static?: readonly string[] } = {},
): NameAnalysis {
  const lower = name.toLowerCase().replace(/\.$/, '')
  const dynamicWords = new Set(words.dynamic ?? DYNAMIC_LABELS)
  const staticWords = new Set(words.static ?? STATIC_LABELS)
  // Labels are looked for left of the domain (its last two labels, without a public suffix
  // list): "mail.example.com.mx" is not static for its .mx, "exchange01.customer.example" not
  // dynamic for its customer. Letter runs: "dsl-189-154-3-27-dyn" holds dsl and dyn, "dip0" dip.
  const parts = lower.split('.')
  const host = parts.length > 2 ? parts.slice(0, -2).join('.') : (parts[0] ?? '')
  const tokens = host.split(/[^a-z]+/).filter(Boolean)
  const labels = [...new Set(tokens.filter((t) => dynamicWords.has(t)))]
  const isStatic = tokens.some((t) => staticWords.has(t))
  const encoding = encodingOf(lower, address)
  // A dynamic label alone needs a number beside it ("pc7.dyn.isp.example"): "mail.home.example" is a name, not a line.
  const numbered = /\d/.test(lower.split('.')[0] ?? '')
  return { encoding, labels, static: isStatic, dynamic: !isStatic && (encoding !== null || (labels.length > 0 && numbered)) }
}

/** How (if at all) the address is written into the name. */
export function encodingOf(name: string, address: string): Encoding | null {
  const plain = unmapIPv4(address)
  if (isIPv4(plain)) return ipv4Encoding(name, plain.split('.').map(Number))
  if (isIPv6(plain)) return ipv6Encoding(name, expandIPv6(plain))
  return null
}

function ipv4Encoding(name: string, octets: number[]): Encoding | null {
  const reversed = [...octets].reverse()
  // Numbers in order with what separates them: "c-73-15-42-101", "modemcable002.35-21-96".
  const runs = [...name.matchAll(/\d+/g)].map((m) => ({ value: Number(m[0]), text: m[0], at: m.index }))
  for (let i = 0; i + 4 <= runs.length; i++) {
    const four = runs.slice(i, i + 4)
    const values = four.map((r) => r.value)
    if (!equal(values, octets) && !equal(values, reversed)) continue
    const separators = four.slice(1).map((r, k) => name.slice((four[k]?.at ?? 0) + (four[k]?.text.length ?? 0), r.at))
    if (separators.every((s) => s === '.')) return 'dotted'
    if (separators.every((s) => s === '-')) return 'dashed'
    if (separators.every((s) => s.length <= 3)) return 'mixed'
  }
  // "ip192000002007", "dsl1920027"
  const padded = octets.map((o) => String(o).padStart(3, '0'))
  const together = [padded.join(''), [...padded].reverse().join(''), octets.join(''), reversed.join('')].filter((s) => s.length >= 7)
  if (runs.some((r) => together.includes(r.text))) return 'run-together'
  // "ip5f5a9c2b.dynamic.kabel-deutschland.de", "p5DD0A4B1.dip0.t-ipconnect.de"
  const hex = octets.map((o) => o.toString(16).padStart(2, '0')).join('')
  const hexReversed = reversed.map((o) => o.toString(16).padStart(2, '0')).join('')
  if (name.includes(hex) || name.includes(hexReversed)) return 'hex'
  return null
}

function ipv6Encoding(name: string, nibbles: string): Encoding | null {
  const compact = name.replace(/[.\-_]/g, '')
  // The whole address, or its interface identifier (the low 64 bits), as hex.
  if (compact.includes(nibbles) || compact.includes(nibbles.slice(16))) return 'hex'
  const groups = (nibbles.match(/.{4}/g) ?? []).map((g) => g.replace(/^0+(?=.)/, ''))
  const tail = groups.slice(4).join('-')
  if (name.includes(tail) && /[1-9a-f]/.test(tail.replaceAll('-', ''))) return 'dashed'
  return null
}

const equal = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((v, i) => v === b[i])
