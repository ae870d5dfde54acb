import { z } from 'zod'
import { CODE_PATTERN, parseCodePattern } from '../dns/return-codes.js'
import { duration, hostname, ipAddress } from './units.js'

// `dns_lists:` describes DNS block and allow lists once (zone, return codes, lookup URL, health
// check); the DNS list checks of each instance say what a hit means per client class.
// `egress:` names the addresses the relayed mail leaves from: SPF is evaluated for them and
// they are watched in the block lists.

const LIST_NAME = /^[a-z0-9_]+$/
const SUB_LIST = /^[A-Za-z0-9_]+$/

const listSchema = z.strictObject({
  zone: hostname().describe('DNS zone of the list, e.g. zen.spamhaus.org'),
  type: z
    .enum(['ip', 'domain'])
    .default('ip')
    .describe('ip: looked up by address (IPv4 reversed octets, IPv6 nibbles); domain: by HELO or sender domain'),
  kind: z.enum(['block', 'allow']).default('block').describe('block: a DNSBL; allow: a DNSWL'),
  codes: z
    .record(
      z.string().refine((p) => CODE_PATTERN.test(p) && parseCodePattern(p) !== null, {
        error: (i) => `expected a return code such as 127.0.0.2, 127.0.0.4-127.0.0.7 or 127.0.*.3, got ${JSON.stringify(i.input)}`,
      }),
      z.string().regex(SUB_LIST, 'a sub-list name: letters, digits and _'),
    )
    .default({})
    .describe('Return codes to sub-list names, matched in order (127.0.0.2: SBL); empty: any 127.0.0.0/8 answer is a hit'),
  url: z
    .string()
    .nullable()
    .default(null)
    .describe('Where a listed sender can look the entry up; {query} is the address or domain (quoted in refusals)'),
  health_check: z
    .boolean()
    .default(true)
    .describe('Check the RFC 5782 test points at start and every dns_lists.check_every; a failing list is skipped'),
  ipv6: z.boolean().default(true).describe('The list answers IPv6 queries (ip lists); false skips IPv6 clients'),
})

/** `dns_lists:` */
export const dnsListsSchema = z
  .strictObject({
    check_every: duration().prefault('5m').describe('How often each list\u2019s test points are checked'),
    lists: z
      .record(z.string().regex(LIST_NAME, 'a list name: lower case letters, digits and _'), listSchema)
      .default({})
      .describe('The DNS lists by name; checks and the egress watch refer to these names'),
  })
  .prefault({})
  .describe('DNS block and allow lists (DNSBL, DNSWL) and their health checks')

/** `egress:` */
export const egressSchema = z
  .strictObject({
    addresses: z
      .array(ipAddress())
      .default([])
      .describe('Addresses relayed mail leaves from (the next hop\u2019s); SPF is evaluated for them and they are watched'),
    watch: z
      .strictObject({
        every: duration().prefault('5m').describe('How often the egress addresses are looked up in the lists'),
        lists: z
          .array(z.string().regex(LIST_NAME))
          .optional()
          .describe('Names of ip block lists to watch; default: every ip block list in dns_lists'),
      })
      .prefault({})
      .describe('Looking our own egress addresses up in the block lists, to hear of a listing first'),
  })
  .prefault({})
  .describe('The relay\u2019s own egress identity')

export type DnsListsConfig = z.output<typeof dnsListsSchema>
export type DnsListDefinition = z.output<typeof listSchema>
export type EgressConfig = z.output<typeof egressSchema>
