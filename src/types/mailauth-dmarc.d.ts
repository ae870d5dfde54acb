// Types for the part of mailauth's DMARC code the relay uses (the package ships none for these
// files): the policy record lookup with its organizational-domain fallback, and alignment.
declare module 'mailauth/lib/dmarc/get-dmarc-record.js' {
  /** The tags of a DMARC record (lower-case keys); `pct` and `ri` as numbers. */
  interface DmarcRecord {
    v?: string
    p?: string
    sp?: string
    pct?: number
    t?: string
    adkim?: string
    aspf?: string
    /** The record's text. */
    rr: string
    /** Found at the organizational domain, not at the From: domain itself (then `sp` applies). */
    isOrgRecord: boolean
    [tag: string]: unknown
  }

  /**
   * Looks up `_dmarc.<domain>`, then `_dmarc.<organizational domain>`; false when neither has
   * exactly one DMARC record. Resolver errors other than ENOTFOUND/ENODATA are thrown.
   */
  function getDmarcRecord(domain: string, resolver: (name: string, rrtype: string) => Promise<unknown>): Promise<DmarcRecord | false>
  // The file is CommonJS: `module.exports = getDmarcRecord`.
  export = getDmarcRecord
}

declare module 'mailauth/lib/tools.js' {
  /**
   * The entry of `domains` whose organizational domain (public suffix list) is the one of
   * `fromDomain` (relaxed alignment, RFC 7489 section 3.1), or false.
   */
  export function getAlignment(fromDomain: string, domains: readonly string[], strict: boolean): { domain: string } | false
}
