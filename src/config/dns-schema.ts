import { z } from 'zod'
import { parseServer } from '../dns/servers.js'
import { duration } from './units.js'

/** `dns:`: the one resolver every check, the reverse lookup and SPF use. */
export const dnsSchema = z
  .strictObject({
    servers: z
      .array(
        z.string().refine((s) => parseServer(s) !== null, {
          error: (i) => `expected an address or addr:port such as 192.0.2.53:53 or [2001:db8::53]:53, got ${JSON.stringify(i.input)}`,
        }),
      )
      .default([])
      .describe('Resolvers to query ("127.0.0.1", "127.0.0.1:5353", "[::1]:53"); empty = /etc/resolv.conf'),
    timeout: duration().prefault('2s').describe('Per-try query timeout'),
    tries: z.number().int().min(1).max(5).default(2).describe('Tries per query'),
    cache: z
      .strictObject({
        max_entries: z
          .number()
          .int()
          .min(0)
          .default(50_000)
          .describe('Answers kept in memory, least recently used dropped first; 0 turns the cache off'),
        max_ttl: duration().prefault('1h').describe('Longest an answer is kept, whatever TTL the server gave'),
        negative_ttl: duration()
          .prefault('15m')
          .describe('Longest a "no such name" or "no such record" answer is kept (RFC 2308: the SOA minimum, capped here)'),
        failure_ttl: duration()
          .prefault('1s')
          .describe('How long a failed lookup (timeout, SERVFAIL, unreachable server) is answered from the cache, as BIND\u2019s servfail-ttl; 0: never'),
      })
      .prefault({})
      .describe('In-process cache of answers, honouring their TTLs'),
  })
  .prefault({})
  .describe('DNS resolver used by every check')

export type DnsConfig = z.output<typeof dnsSchema>
