import { isIP } from 'node:net'
import { z } from 'zod'
import { encodingOf } from '../dns/dynamic-name.js'
import { heloRejected } from '../errors/replies.js'
import type { Verdict } from '../pipeline/types.js'
import { defineCheck } from '../pipeline/types.js'
import { actionFor, classActions } from './class-action.js'
import type { HitAction } from './class-action.js'
import { canonicalAddress, sameAddress } from '../relay/ip.js'
import { combineFindings } from './combine-findings.js'
import type { Finding } from './combine-findings.js'

// The HELO/EHLO name (Mail8's HELO screening; Postfix's reject_invalid_helo_hostname,
// reject_non_fqdn_helo_hostname, reject_unknown_helo_hostname). Real mail servers greet with
// their own fully-qualified name (RFC 5321 section 4.1.1.1) or an address literal in
// brackets; bots greet with whatever is at hand: a bare IP, localhost, our own name.
// Each heuristic is an option with its own action per client class.

const LOCALHOST = new Set(['localhost', 'localhost.localdomain', 'localhost6', 'localhost6.localdomain6', 'ip6-localhost'])
const LOOPBACK = (a: string) => /^127\./.test(a) || a === '::1'
/** A process on this host (127.0.0.1, ::1) may well call itself localhost. */
const THIS_HOST = (a: string) => a === '127.0.0.1' || a === '::1'

type Heuristic = 'bare_ip' | 'literal_mismatch' | 'localhost' | 'not_fqdn' | 'ours' | 'encodes_address' | 'no_match'

const WHY: Record<Heuristic, (client: string) => string> = {
  bare_ip: () => 'an address must be written as a literal in brackets, e.g. [192.0.2.1] (RFC 5321 section 4.1.3)',
  literal_mismatch: (c) => `the address literal is not your address [${c}]`,
  localhost: () => 'localhost is not your host name; greet with your fully-qualified host name',
  not_fqdn: () => 'need a fully-qualified host name',
  ours: () => 'that is our own name or address; greet with your own host name',
  encodes_address: () => "the name looks like a dynamic address; greet with your mail server's name",
  no_match: (c) => `the host name does not resolve to your address [${c}]`,
}

/** helo.heuristics: checks of the HELO/EHLO name. Verdicts: reject, tempfail, tag, continue. */
export const heloHeuristics = defineCheck({
  id: 'helo.heuristics',
  stage: 'helo',
  description:
    'HELO name heuristics, each with an action per client class: bare IP, wrong address literal, localhost, not a FQDN, our own name, address in the name, does not resolve to the client.',
  options: z.strictObject({
    bare_ip: classActions({ tag: 1 }).describe('An IP address not in brackets'),
    literal_mismatch: classActions({ tag: 2 }).describe('An address literal that is not the client\u2019s address'),
    localhost: classActions({ tag: 2 }).describe('localhost (or a loopback literal) from a client other than this host (127.0.0.1, ::1)'),
    not_fqdn: classActions({ tag: 1 }).describe('A name without a dot'),
    ours: classActions({ tag: 3 }).describe('Our own host name, one of our local domains, or one of our addresses'),
    encodes_address: classActions({ tag: 1 }).describe('The client\u2019s address written into the name (a dynamic line\u2019s name)'),
    no_match: classActions({ tag: 1 }).describe('The name does not resolve, or not to the client\u2019s address (a DNS failure is not counted)'),
    our_names: z.array(z.string()).default([]).describe('More names that are ours, besides the host names and local domains'),
  }),
  create: (config, deps) => {
    const ourNames = new Set([...deps.dns.ourNames, ...config.our_names].map((n) => n.toLowerCase()))
    // Compared in canonical form: a policy may write 2001:DB8:0::25, a client [IPv6:2001:db8::25].
    const ourAddresses = new Set(deps.dns.ourAddresses.map((a) => canonicalAddress(a) ?? a))
    const actions: Record<Heuristic, Readonly<Record<string, HitAction>>> = config
    return async function helo(ctx): Promise<Verdict> {
      const name = (ctx.session.helo ?? '').trim()
      // Already canonical: node's socket text (IPv4-mapped unwrapped by the session) or a PROXY header's source.
      const client = ctx.session.client.address
      const klass = ctx.session.clientClass
      const found: Heuristic[] = []
      const literal = /^\[(?:ipv6:)?([^\]]+)\]$/i.exec(name)?.[1]
      const lower = name.toLowerCase().replace(/\.$/, '')
      if (literal !== undefined) {
        // Any RFC 4291 spelling of the client's address is its address (RFC 5321 section 4.1.3):
        // [IPv6:2001:DB8:0::1] from 2001:db8::1 is no mismatch.
        const address = canonicalAddress(literal) ?? literal.toLowerCase()
        if (address !== client) found.push(LOOPBACK(address) && !THIS_HOST(client) ? 'localhost' : 'literal_mismatch')
        if (ourAddresses.has(address) && address !== client) found.push('ours')
      } else if (isIP(name)) {
        found.push('bare_ip')
        const address = canonicalAddress(name)
        if (address !== null && ourAddresses.has(address) && address !== client) found.push('ours')
      } else {
        if (LOCALHOST.has(lower) && !THIS_HOST(client)) found.push('localhost')
        else if (!lower.includes('.')) found.push('not_fqdn')
        if (ourNames.has(lower)) found.push('ours')
        if (encodingOf(lower, client)) found.push('encodes_address')
        if (lower.includes('.') && !LOCALHOST.has(lower) && !ourNames.has(lower) && (await resolvesElsewhere(lower, client))) {
          found.push('no_match')
        }
      }
      const findings: Finding[] = found.map((h) => ({
        flag: `HELO_${h.toUpperCase()}`,
        detail: h.replaceAll('_', ' '),
        action: actionFor(actions[h], klass),
        reply: (temporary) => heloRejected(name, WHY[h](client), temporary),
      }))
      return combineFindings(findings, `helo=${name || '(none)'}`, klass)
    }

    /** True when the name has no address, or none of its addresses is the client's; false on a DNS failure. */
    async function resolvesElsewhere(name: string, client: string): Promise<boolean> {
      try {
        const addresses = (await deps.resolver.resolve(name, client.includes(':') ? 'AAAA' : 'A')) as string[]
        return !addresses.some((a) => sameAddress(a, client))
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code
        return code === 'ENOTFOUND' || code === 'ENODATA'
      }
    }
  },
})
