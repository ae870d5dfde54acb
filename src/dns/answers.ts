import dns2 from 'dns2'
import type { DnsMessage, DnsRecord, RrType } from './transport.js'

const { Packet } = dns2

/** RFC 1035 section 4.1.1 response codes the resolver tells apart. */
export const RCODE = { NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 } as const

/** The value dns.promises.resolve gives for a record type (the contract mailauth relies on). */
export type ResolvedValue =
  | string[]
  | string[][]
  | { exchange: string; priority: number }[]
  | { nsname: string; hostmaster: string; serial: number; refresh: number; retry: number; expire: number; minttl: number }

/** What a response says about the question, in the terms the cache keeps. */
export type Outcome =
  | { kind: 'answer'; value: ResolvedValue; ttlSec: number }
  /** NXDOMAIN (ENOTFOUND) or NODATA (ENODATA), with the negative TTL of RFC 2308 section 5 (null: no SOA). */
  | { kind: 'negative'; code: 'ENOTFOUND' | 'ENODATA'; ttlSec: number | null }

/**
 * Reads a NOERROR or NXDOMAIN response. Records of the asked type are the answer (a CNAME
 * chain before them is followed by the recursive server); none of them is NODATA.
 */
export function outcomeOf(message: DnsMessage, type: RrType): Outcome {
  if (message.rcode === RCODE.NXDOMAIN) return { kind: 'negative', code: 'ENOTFOUND', ttlSec: negativeTtl(message) }
  const wanted = Packet.TYPE[type]
  const records = message.answers.filter((r) => r.type === wanted)
  if (records.length === 0) return { kind: 'negative', code: 'ENODATA', ttlSec: negativeTtl(message) }
  // The chain is only as fresh as its shortest-lived link (CNAMEs included).
  const ttlSec = Math.min(...message.answers.map((r) => r.ttl))
  return { kind: 'answer', value: shape(type, records), ttlSec }
}

/** RFC 2308 section 5: the negative TTL is the smaller of the SOA's TTL and its MINIMUM field. */
function negativeTtl(message: DnsMessage): number | null {
  const soa = message.authorities.find((r) => r.type === Packet.TYPE.SOA)
  if (!soa) return null
  return Math.min(soa.ttl, soa.minimum ?? soa.ttl)
}

const name = (r: DnsRecord) => (r.domain ?? r.ns ?? '').replace(/\.$/, '')

function shape(type: RrType, records: DnsRecord[]): ResolvedValue {
  switch (type) {
    case 'A':
    case 'AAAA':
      return records.map((r) => r.address ?? '')
    case 'TXT':
      // dns2 joins a record's character-strings; node gives them as chunks, which every
      // reader (SPF, DNSBL texts) joins again.
      return records.map((r) => (Array.isArray(r.data) ? r.data : [r.data ?? '']))
    case 'MX':
      return records.map((r) => ({ exchange: (r.exchange ?? '').replace(/\.$/, ''), priority: r.priority ?? 0 }))
    case 'PTR':
    case 'CNAME':
    case 'NS':
      return records.map(name)
    case 'SOA': {
      const r = records[0] as DnsRecord
      return {
        nsname: r.primary ?? '',
        hostmaster: r.admin ?? '',
        serial: r.serial ?? 0,
        refresh: r.refresh ?? 0,
        retry: r.retry ?? 0,
        expire: r.expiration ?? 0,
        minttl: r.minimum ?? 0,
      }
    }
  }
}

/** A copy callers may change (mailauth sorts MX lists in place) without touching the cache. */
export function copyOf(value: ResolvedValue): ResolvedValue {
  return Array.isArray(value) ? ([...value] as ResolvedValue) : { ...value }
}
