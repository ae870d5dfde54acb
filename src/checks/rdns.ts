import { isIPv6 } from 'node:net'
import { z } from 'zod'
import { analyzeName, DYNAMIC_LABELS, STATIC_LABELS } from '../dns/dynamic-name.js'
import { dnsLookupFailed, dynamicClient, noReverseDns, reverseDnsMismatch } from '../errors/replies.js'
import type { Verdict } from '../pipeline/types.js'
import { defineCheck } from '../pipeline/types.js'
import { sameAddress } from '../relay/ip.js'
import { actionFor, classActions } from './class-action.js'
import { combineFindings } from './combine-findings.js'
import type { Finding } from './combine-findings.js'
import { className } from '../classes/schema.js'

// The client's reverse DNS, forward-confirmed (FCrDNS): a PTR name of the address whose A or
// AAAA records hold the address again. Without one, or with a generic dynamic-line name, the
// client is most likely a home line rather than a mail server; on the outbound instance that
// is who customers are, so a dynamic name moves the client to the residential-dynamic class
// (its limits and checks) rather than refusing it.

/** PTR names checked for forward confirmation (RFC 7208 section 4.6.4 stops at 10 too). */
const MAX_NAMES = 10

type Lookup<T> = { ok: true; value: T } | { ok: false; code: string }

async function attempt<T>(work: () => Promise<T>): Promise<Lookup<T>> {
  try {
    return { ok: true, value: await work() }
  } catch (err) {
    return { ok: false, code: (err as NodeJS.ErrnoException).code ?? String(err) }
  }
}

const notFound = (code: string) => code === 'ENOTFOUND' || code === 'ENODATA'

/** connect.rdns: PTR with forward confirmation and dynamic-name heuristics. Verdicts: reject, tempfail, tag, continue; may reclassify. */
export const rdns = defineCheck({
  id: 'connect.rdns',
  stage: 'connect',
  description:
    'Reverse DNS of the client, forward-confirmed; a missing, unconfirmed or dynamic-looking name is tagged or refused per class, and a dynamic one can reclassify the client.',
  options: z.strictObject({
    missing: classActions({ tag: 1 }).describe('The address has no PTR name: action per client class'),
    unconfirmed: classActions({ tag: 1 }).describe('No PTR name resolves back to the address: action per client class'),
    dynamic: classActions({ tag: 0 }).describe('The name looks like a dynamic or residential line\u2019s: action per client class'),
    reclassify: className()
      .nullable()
      .default('residential-dynamic')
      .describe('Class a client with a dynamic-looking name moves to; null keeps its class'),
    on_timeout: z
      .enum(['continue', 'tempfail'])
      .default('continue')
      .describe('A lookup that failed or timed out: continue without an opinion, or 451 4.4.3'),
    dynamic_labels: z.array(z.string().regex(/^[a-z]+$/)).default(DYNAMIC_LABELS).describe('Labels that mark a dynamic line (dyn, dhcp, pool, dsl, ppp…)'),
    static_labels: z.array(z.string().regex(/^[a-z]+$/)).default(STATIC_LABELS).describe('Labels that mark a static line or a mail server (static, mail…)'),
  }),
  create: (config, deps) => {
    const words = { dynamic: config.dynamic_labels, static: config.static_labels }
    return async function reverseDns(ctx): Promise<Verdict> {
      // IPv4-mapped addresses were unwrapped by the session.
      const address = ctx.session.client.address
      const klass = ctx.session.clientClass
      // smtp-server asked for the PTR before the greeting: this answer comes from the cache.
      const ptr = await attempt(() => deps.resolver.reverse(address))
      const failed = (what: string): Verdict =>
        config.on_timeout === 'tempfail'
          ? { kind: 'tempfail', reply: dnsLookupFailed(`the reverse DNS of ${address}`), flags: ['RDNS_ERROR'], detail: what }
          : { kind: 'tag', score: 0, flags: ['RDNS_ERROR'], detail: what }
      if (!ptr.ok) return failed(`PTR lookup failed: ${ptr.code}`)
      if (ptr.value.length === 0) {
        const finding: Finding = {
          flag: 'RDNS_NONE',
          detail: 'no PTR name',
          action: actionFor(config.missing, klass),
          reply: (temporary) => noReverseDns(address, temporary),
        }
        return combineFindings([finding], 'ptr=none', klass)
      }
      const names = ptr.value.slice(0, MAX_NAMES)
      const family = isIPv6(address) ? 'AAAA' : 'A'
      const forward = await Promise.all(names.map((n) => attempt(() => deps.resolver.resolve(n, family) as Promise<string[]>)))
      const confirmedAt = forward.findIndex((f) => f.ok && f.value.some((a) => sameAddress(a, address)))
      if (confirmedAt < 0 && forward.every((f) => !f.ok && !notFound(f.code))) {
        return failed(`ptr=${names.join(',')} forward lookup failed`)
      }
      const name = names[Math.max(0, confirmedAt)] as string
      const analysis = analyzeName(name, address, words)
      const findings: Finding[] = []
      if (confirmedAt < 0) {
        findings.push({
          flag: 'RDNS_UNCONFIRMED',
          detail: `${name} does not resolve back to ${address}`,
          action: actionFor(config.unconfirmed, klass),
          reply: (temporary) => reverseDnsMismatch(address, name, temporary),
        })
      }
      if (analysis.dynamic) {
        findings.push({
          flag: 'RDNS_DYNAMIC',
          detail: `dynamic-looking name (${[analysis.encoding && `address written ${analysis.encoding}`, ...analysis.labels].filter(Boolean).join(', ')})`,
          action: actionFor(config.dynamic, klass),
          reply: (temporary) => dynamicClient(address, name, temporary),
        })
      }
      const verdict = combineFindings(findings, `ptr=${name} confirmed=${confirmedAt >= 0 ? 'yes' : 'no'}`, klass)
      return analysis.dynamic && config.reclassify ? { ...verdict, reclassify: config.reclassify } : verdict
    }
  },
})

