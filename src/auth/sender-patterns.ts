import { normalizeDomain, splitAddress } from '../relay/address.js'

/**
 * One envelope sender a login may use: an address (`alice@example.com`), a domain
 * (`@example.com`, its addresses) or a parent domain (`.example.com`, addresses of its
 * subdomains, not of example.com itself: list both for both, as Postfix's parent-domain matching).
 */
export type SenderPattern = { kind: 'address'; address: string } | { kind: 'domain'; domain: string } | { kind: 'subdomains'; suffix: string }

const DOMAIN = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/i

/** Parses a sender pattern; null when it is none of the three forms. */
export function parseSenderPattern(text: string): SenderPattern | null {
  const p = text.trim().toLowerCase()
  // Domains compare in the Unicode form splitAddress gives the sender's (xn-- decoded).
  if (p.startsWith('@')) return DOMAIN.test(p.slice(1)) ? { kind: 'domain', domain: normalizeDomain(p.slice(1)) } : null
  if (p.startsWith('.')) return DOMAIN.test(p.slice(1)) ? { kind: 'subdomains', suffix: `.${normalizeDomain(p.slice(1))}` } : null
  const at = p.lastIndexOf('@')
  if (at <= 0 || /[\s<>,:]/.test(p) || !DOMAIN.test(p.slice(at + 1))) return null
  return { kind: 'address', address: `${p.slice(0, at)}@${normalizeDomain(p.slice(at + 1))}` }
}

/** Parses a list of sender patterns, dropping any that is none of the three forms. */
export function parseSenderPatterns(list: readonly string[]): SenderPattern[] {
  return list.map(parseSenderPattern).filter((p): p is SenderPattern => p !== null)
}

/**
 * True when the envelope sender is one the pattern allows. Compared without regard to case
 * (RFC 5321 leaves local-part case to the receiving domain; an ISP's mailboxes ignore it).
 */
export function senderMatches(pattern: SenderPattern, sender: string): boolean {
  const { local, domain } = splitAddress(sender.toLowerCase())
  switch (pattern.kind) {
    case 'address':
      return `${local}@${domain}` === pattern.address
    case 'domain':
      return domain === pattern.domain
    case 'subdomains':
      return domain.endsWith(pattern.suffix)
  }
}
