import type { MxData, SoaData } from 'dns-packet'
import type { DnsMessage, DnsRecord, RrType } from './transport.js'

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
  /** No usable answer (timeout, SERVFAIL, REFUSED, unreachable server), kept briefly. */
  | { kind: 'failure'; code: string }

/**
 * Reads a NOERROR or NXDOMAIN response. Records of the asked type are the answer (a CNAME
 * chain before them is followed by the recursive server); none of them is NODATA.
 */
export function outcomeOf(message: DnsMessage, type: RrType): Outcome {
  if (message.rcode === 'NXDOMAIN') return { kind: 'negative', code: 'ENOTFOUND', ttlSec: negativeTtl(message) }
  const records = message.answers.filter((r) => r.type === type)
  if (records.length === 0) return { kind: 'negative', code: 'ENODATA', ttlSec: negativeTtl(message) }
  // The chain is only as fresh as its shortest-lived link (CNAMEs included).
  const ttlSec = Math.min(...message.answers.map(ttl))
  return { kind: 'answer', value: shape(type, records), ttlSec }
}

const ttl = (r: DnsRecord) => ('ttl' in r ? (r.ttl ?? 0) : 0)

/** RFC 2308 section 5: the negative TTL is the smaller of the SOA's TTL and its MINIMUM field. */
function negativeTtl(message: DnsMessage): number | null {
  const soa = message.authorities.find((r) => r.type === 'SOA')
  if (!soa) return null
  return Math.min(ttl(soa), (soa.data).minimum ?? ttl(soa))
}

const text = (d: unknown) => (Buffer.isBuffer(d) ? d.toString('utf8') : String(d))
const stripDot = (name: string) => name.replace(/\.$/, '')

function shape(type: RrType, records: DnsRecord[]): ResolvedValue {
  const data = records.map((r) => (r as { data: unknown }).data)
  switch (type) {
    case 'A':
    case 'AAAA':
      return data.map(text)
    case 'TXT':
      // Each record as its character-strings, as node gives them; readers join them.
      return data.map((d) => (Array.isArray(d) ? d.map(text) : [text(d)]))
    case 'MX':
      return (data as MxData[]).map((d) => ({ exchange: stripDot(d.exchange), priority: d.preference ?? 0 }))
    case 'PTR':
    case 'CNAME':
    case 'NS':
      return data.map((d) => stripDot(text(d)))
    case 'SOA': {
      const d = data[0] as SoaData
      return {
        nsname: d.mname,
        hostmaster: d.rname,
        serial: d.serial ?? 0,
        refresh: d.refresh ?? 0,
        retry: d.retry ?? 0,
        expire: d.expire ?? 0,
        minttl: d.minimum ?? 0,
      }
    }
  }
}

/** A copy callers may change (mailauth sorts MX lists in place) without touching the cache. */
export function copyOf(value: ResolvedValue): ResolvedValue {
  return Array.isArray(value) ? ([...value] as ResolvedValue) : { ...value }
}
