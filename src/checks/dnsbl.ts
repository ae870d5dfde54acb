import { z } from 'zod'
import type { CheckEntry } from '../config/check-entry.js'
import { duration } from '../config/units.js'
import type { DnsList } from '../dns/dns-lists.js'
import { domainQueryName, ipQueryName, lookupList } from '../dns/dnsbl-query.js'
import type { ListResult } from '../dns/dnsbl-query.js'
import { dnsblDeferred, dnsblListed, dnsLookupFailed } from '../errors/replies.js'
import type { SmtpReply } from '../errors/smtp-reply.js'
import { dnsListLookupsFor } from '../metrics/dns-check-metrics.js'
import { withDeadline } from '../pipeline/deadlines.js'
import type { StageContext, Verdict } from '../pipeline/types.js'
import { defineCheck } from '../pipeline/types.js'
import { splitAddress } from '../relay/address.js'
import { listActionFor, listActions } from './dns-list-actions.js'
import type { ListAction } from './dns-list-actions.js'

// DNS block and allow lists at MAIL FROM: the client address in ip lists, the HELO name or the
// sender domain in domain lists, every list at once under one deadline. Deciding at MAIL FROM
// (not at connect) means the client's class is known, an authenticated user included, and the
// refusal reaches the sender's program as a reply to a command it shows (Postfix decides its
// reject_rbl_client at RCPT for the same reasons).
//
// Only the client's own reputation is judged here: a list hit never opens the relay (an
// allow list's accept skips the remaining mail-stage policy checks; relay authorization is a
// core check at RCPT that nothing skips).

const subject = z.enum(['client', 'helo', 'sender'])

const usageSchema = z.strictObject({
  list: z.string().regex(/^[a-z0-9_]+$/).describe('A list name from dns_lists.lists'),
  query: subject
    .optional()
    .describe('What is looked up: client (ip lists; the default), helo or sender (domain lists; sender is the default)'),
  actions: listActions()
    .optional()
    .describe('What a hit does per client class; default: { default: reject } for block lists, { default: accept } for allow lists'),
  sub_lists: z
    .record(z.string().regex(/^[A-Za-z0-9_.]+$/), listActions())
    .default({})
    .describe('Per-class actions for particular sub-lists (names from the list\u2019s codes), overriding actions'),
})

type Usage = z.output<typeof usageSchema>
type Subject = z.output<typeof subject>

interface CompiledUsage {
  list: DnsList
  query: Subject
  actions: Readonly<Record<string, ListAction>>
  subLists: Readonly<Record<string, Readonly<Record<string, ListAction>>>>
}

/** A sub-list hit and what it does for this client. */
interface Hit {
  usage: CompiledUsage
  subList: string
  codes: string[]
  action: ListAction
  flag: string
}

const TIMEOUT = Symbol('timeout')
/** What a lookup past the deadline rejects with (one instance: it is an outcome, not a fault). */
const EXPIRED = new Error('DNS list deadline passed')
const expired = () => EXPIRED

const flagPart = (s: string) => s.toUpperCase().replace(/[^A-Z0-9]+/g, '_')

function compile(usage: Usage, lookup: (name: string) => DnsList | undefined): CompiledUsage {
  const list = lookup(usage.list)
  if (!list) throw new Error(`dns_lists has no list ${usage.list}`)
  const fallback: ListAction = list.kind === 'allow' ? { action: 'accept' } : { action: 'reject' }
  return {
    list,
    query: usage.query ?? (list.type === 'ip' ? 'client' : 'sender'),
    actions: usage.actions ?? { default: fallback },
    subLists: usage.sub_lists,
  }
}

/** The name to look up, and how the subject reads in a reply; null when there is nothing to look up. */
function target(u: CompiledUsage, ctx: StageContext): { name: string; query: string; label: string } | null {
  if (u.query === 'client') {
    const address = ctx.session.client.address
    if (!u.list.accepts(address)) return null
    return { name: ipQueryName(address, u.list.zone), query: address, label: `Client host [${address}]` }
  }
  const domain = u.query === 'helo' ? (ctx.session.helo ?? '') : splitAddress(ctx.tx?.mailFrom ?? '').domain
  const name = domain ? domainQueryName(domain, u.list.zone) : null
  if (!name) return null
  return { name, query: domain, label: u.query === 'helo' ? `HELO name ${domain}` : `Sender domain ${domain}` }
}

/** mail.dnsbl: DNS lists at MAIL FROM. Verdicts: accept, reject, tempfail, tag, continue. */
export const dnsbl = defineCheck({
  id: 'mail.dnsbl',
  stage: 'mail',
  description:
    'DNS block and allow lists (client address, HELO or sender domain), all at once under one deadline: reject, tempfail, accept or tag per client class.',
  options: z.strictObject({
    lists: z.array(usageSchema).min(1).describe('The lists to query and what their hits do'),
    deadline: duration()
      .prefault('2s')
      .describe('Every list is queried at once; a list without an answer by then counts as a timeout'),
    on_timeout: z
      .enum(['continue', 'tempfail'])
      .default('continue')
      .describe('A list that timed out or failed: continue without it (fail open), or 451 4.4.3'),
  }),
  create: (config, deps) => {
    const usages = config.lists.map((u) => compile(u, (n) => deps.dns.lists.get(n)))
    // The check's own timeout (a common field of every listed check) would turn a slow list
    // into an error: stop waiting before it.
    const checkTimeout = (config as Partial<CheckEntry>).timeout ?? Infinity
    const deadlineMs = Math.max(1, Math.min(config.deadline, checkTimeout - 50))
    return async function dnsLists(ctx) {
      const instance = ctx.session.instance
      const targets = usages.map((u) => ({ u, t: target(u, ctx) }))
      const results = await Promise.all(
        targets.map(({ u, t }): Promise<ListResult | typeof TIMEOUT | null> => {
          if (!t) return Promise.resolve(null)
          if (!deps.dns.lists.usable(u.list.name)) {
            dnsListLookupsFor(instance, u.list.name, 'skipped').inc()
            return Promise.resolve(null)
          }
          // The pipeline's shared deadline sweep, not a timer per message.
          return withDeadline(lookupList(deps.resolver, t.name, u.list.returnCodes), deadlineMs, expired).catch((err: unknown) => {
            if (err === EXPIRED) return TIMEOUT
            throw err
          })
        }),
      )

      const hits: Hit[] = []
      const notes: string[] = []
      const failures: { list: string; why: string }[] = []
      results.forEach((r, i) => {
        const { u, t } = targets[i] as (typeof targets)[number]
        if (r === null || !t) {
          if (t) notes.push(`${u.list.name}: skipped (unhealthy)`)
          return
        }
        const result = r === TIMEOUT ? 'timeout' : r.status === 'error' ? 'error' : r.status
        dnsListLookupsFor(instance, u.list.name, result).inc()
        if (r === TIMEOUT || r.status === 'error') {
          failures.push({ list: u.list.name, why: r === TIMEOUT ? 'timeout' : r.reason })
          return
        }
        if (r.status === 'clean') return
        for (const sub of r.subLists) {
          const map = u.subLists[sub] ?? u.actions
          const prefix = u.list.kind === 'allow' ? 'DNSWL' : 'DNSBL'
          const flag = sub === u.list.name ? `${prefix}_${flagPart(sub)}` : `${prefix}_${flagPart(u.list.name)}_${flagPart(sub)}`
          hits.push({ usage: u, subList: sub, codes: r.codes, action: listActionFor(map, ctx.session.clientClass), flag })
        }
      })
      return decide(hits, failures, notes, config.on_timeout, targets, ctx)
    }
  },
})

/** Combines the hits: an allow list's accept first, then reject, tempfail, a failed lookup (if so configured), tags. */
function decide(
  hits: Hit[],
  failures: { list: string; why: string }[],
  notes: string[],
  onTimeout: 'continue' | 'tempfail',
  targets: { u: CompiledUsage; t: { query: string; label: string } | null }[],
  ctx: StageContext,
): Verdict {
  const describe = (h: Hit) => `${h.usage.list.name}(${h.codes.join(',')} ${h.subList})`
  const detail = [...hits.map(describe), ...failures.map((f) => `${f.list}: ${f.why}`), ...notes].join('; ') || 'not listed'
  // A list that did not answer is neither a listing nor a clean bill (rspamd's _FAIL symbols).
  const flags = [...hits.map((h) => h.flag), ...failures.map((f) => `DNSBL_${flagPart(f.list)}_ERROR`)]
  const accept = hits.find((h) => h.action.action === 'accept')
  if (accept) return { kind: 'accept', detail }
  const reply = (h: Hit, make: typeof dnsblListed): SmtpReply => {
    const t = targets.find((x) => x.u === h.usage)?.t
    const sub = h.subList === h.usage.list.name ? null : h.subList
    return make(t?.label ?? 'The sender', h.usage.list.zone, sub, t ? h.usage.list.lookupUrl(t.query) : null)
  }
  const reject = hits.find((h) => h.action.action === 'reject')
  if (reject) return { kind: 'reject', reply: reply(reject, dnsblListed), flags, detail }
  const tempfail = hits.find((h) => h.action.action === 'tempfail')
  if (tempfail) return { kind: 'tempfail', reply: reply(tempfail, dnsblDeferred), flags, detail }
  if (failures.length && onTimeout === 'tempfail') {
    return { kind: 'tempfail', reply: dnsLookupFailed(`${ctx.session.client.address} in DNS lists`), flags, detail }
  }
  const score = hits.reduce((sum, h) => sum + (h.action.action === 'tag' ? h.action.score : 0), 0)
  const ignored = hits.filter((h) => h.action.action === 'ignore').map((h) => describe(h))
  const said = ignored.length ? `${detail} (ignored for class ${ctx.session.clientClass}: ${ignored.join(', ')})` : detail
  // Tags with a score of 0 still record their flags (a failed list) on the transaction.
  const tagged = hits.filter((h) => h.action.action === 'tag').map((h) => h.flag)
  if (tagged.length || failures.length) return { kind: 'tag', score, flags: flags.filter((f) => tagged.includes(f) || f.endsWith('_ERROR')), detail: said }
  return { kind: 'continue', detail: said }
}
