import type { NameEntry } from '../helpers/dns-server.js'
import type { BenchPolicy } from './relay-process.js'
import { RULES_DIR } from './scan-time.js'

// "Every check on": the relay as an ISP's outbound instance runs it, for the benchmark's
// smtp-source load (client 127.0.0.1, HELO and sender domain client.bench.example). Limits so
// high that none refuses, a DNS list that does not list the client, rDNS and HELO checks that
// find names, SPF for the customer and for the egress address, the eight header checks, the
// DMARC-aware From (aligned here: no lookup), content scanning, and the added header fields. Every lookup is answered by the bench's DNS server (dns/server-process.ts),
// which serves the names below.

/** The address the bench relay says it sends from (SPF is evaluated for it). */
const EGRESS = '192.0.2.25'

/** Names the DNS server serves for these checks. */
export function everyCheckNames(): Record<string, NameEntry> {
  return {
    'client.bench.example': { A: ['127.0.0.1'], TXT: [`v=spf1 ip4:127.0.0.0/8 ip4:${EGRESS} -all`] },
    '_dmarc.client.bench.example': { TXT: ['v=DMARC1; p=reject'] },
    '1.0.0.127.in-addr.arpa': { PTR: ['client.bench.example'] },
  }
}

const HIGH = '100000000/1h'

/** The eight header checks, in the order the data stage runs them (scan.ts's screening relay too). */
export const HEADER_CHECKS = [
  { check: 'data.from_mismatch', action: { default: { tag: 5 } } },
  { check: 'data.multiple_from' },
  { check: 'data.reply_to_freemail' },
  { check: 'data.forged_received', hosts: ['relay.bench.example'] },
  { check: 'data.webmail_trace' },
  { check: 'data.missing_message_id' },
  { check: 'data.missing_date' },
  { check: 'data.bulk_mailer' },
]

/** Content scanning, tempfailing when the scanner faults (scan.ts's relays too). */
export const CONTENT_SCAN = { check: 'data.content_scan', on_error: 'tempfail' }

/** Every limit check on the path of a message, with limits no bench load reaches (bench:limits and the workers bench too). */
export const LIMIT_CHECKS = [
  { check: 'connect.concurrency', limits: { default: 100_000 } },
  { check: 'connect.rate', limits: { default: HIGH } },
  { check: 'mail.rate', limits: { address: { default: HIGH }, subnet: { default: HIGH }, sender_domain: { default: HIGH } } },
  { check: 'mail.null_sender_rate', limits: { address: { default: HIGH } } },
  { check: 'rcpt.rate', limits: { address: { default: HIGH } } },
  { check: 'rcpt.fanout', limits: { address: { default: HIGH } } },
]

const atConnect = (c: { check: string }) => c.check.startsWith('connect.')

/** The checks, in the order a stage runs them. */
const CHECKS = [
  ...LIMIT_CHECKS.filter(atConnect),
  { check: 'connect.rdns' },
  { check: 'helo.heuristics' },
  { check: 'mail.dnsbl', lists: [{ list: 'bl1' }] },
  { check: 'mail.spf_inbound' },
  { check: 'mail.spf_outbound' },
  ...LIMIT_CHECKS.filter((c) => !atConnect(c)),
  ...HEADER_CHECKS,
  { check: 'data.from_dmarc' },
  CONTENT_SCAN,
]

/** Turns a bench policy into one with every check on, resolving through the DNS server on `dnsPort`. */
export function everyCheck(policy: BenchPolicy, dnsPort: number): void {
  policy.dns = { servers: [`127.0.0.1:${dnsPort}`], timeout: '2s', tries: 2 }
  policy.dns_lists = { lists: { bl1: { zone: 'bl1.bench.test' } } }
  policy.egress = { addresses: [EGRESS] }
  const outbound = policy.instances.outbound as Record<string, unknown>
  outbound.scan = { rules: RULES_DIR }
  outbound.checks = CHECKS
  outbound.added_headers = { guard: true, authentication_results: true }
}
