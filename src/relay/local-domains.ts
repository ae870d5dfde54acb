import { normalizeDomain, splitAddress, hasRoutingCharacters } from './address.js'

/** Recipient lists of one local domain; an absent `valid` list accepts every local part. */
export interface LocalDomainLists {
  valid?: readonly string[] | undefined
  invalid?: readonly string[] | undefined
}

/** What a local domain says of one recipient. */
export type LocalLookup = 'valid' | 'unknown' | 'routing'

interface DomainSets {
  valid: Set<string> | null
  invalid: Set<string>
}

/**
 * The domains an instance accepts mail for and their valid and invalid local parts
 * (ms-lite's lists: invalid wins). `postmaster` is always valid unless listed invalid
 * (RFC 5321 section 4.5.1). Local parts compare case-insensitively, and an address
 * extension after the delimiter (alice+news) is judged by its base (alice).
 */
export class LocalDomains {
  readonly #domains = new Map<string, DomainSets>()
  readonly #delimiter: string

  constructor(domains: Readonly<Record<string, LocalDomainLists>>, delimiter = '+') {
    this.#delimiter = delimiter
    for (const [name, lists] of Object.entries(domains)) {
      this.#domains.set(normalizeDomain(name), {
        valid: lists.valid ? new Set(lists.valid.map((l) => l.toLowerCase())) : null,
        invalid: new Set((lists.invalid ?? []).map((l) => l.toLowerCase())),
      })
    }
  }

  get size(): number {
    return this.#domains.size
  }

  /** True for a local domain, and for the domainless postmaster when any domain is local. */
  isLocal(domain: string): boolean {
    return domain === '' ? this.#domains.size > 0 : this.#domains.has(domain)
  }

  /** Judges a recipient of a local domain. */
  lookup(address: string): LocalLookup {
    const { local, domain } = splitAddress(address)
    if (hasRoutingCharacters(local)) return 'routing'
    const lower = local.toLowerCase()
    const cut = this.#delimiter ? lower.indexOf(this.#delimiter) : -1
    const base = cut > 0 ? lower.slice(0, cut) : lower
    if (domain === '') return base === 'postmaster' ? 'valid' : 'unknown'
    const sets = this.#domains.get(domain)
    if (!sets) return 'unknown'
    if (sets.invalid.has(lower) || sets.invalid.has(base)) return 'unknown'
    if (base === 'postmaster' || !sets.valid) return 'valid'
    return sets.valid.has(lower) || sets.valid.has(base) ? 'valid' : 'unknown'
  }
}
