import type { LRUCache } from 'lru-cache'
import type { SpfResultName, spf as mailauthSpf } from 'mailauth/lib/spf/index.js'
import { withDeadline } from '../pipeline/deadlines.js'
import type { Resolver } from './resolver.js'
import { growingLru } from '../lru.js'

export type { SpfResultName }

/** What an SPF evaluation (RFC 7208) found; the inbound check writes it into trace fields. */
export interface SpfOutcome {
  result: SpfResultName
  /** The domain evaluated: the sender's, or the HELO name's for the null sender. */
  domain: string
  /** Why, in words: "relay.test: domain of a@b designates 192.0.2.1 as permitted sender"; may be empty. */
  comment: string
}

/** One evaluation: `sender` is MAIL FROM, or postmaster@<helo> for the null sender (identity helo). */
export interface SpfQuery {
  sender: string
  identity: 'mailfrom' | 'helo'
  ip: string
  helo: string
  /** Our host name: in comments and as the receiver. */
  hostname: string
}

/** What an evaluation past its deadline rejects with (one instance: it is an outcome, not a fault). */
const EXPIRED = new Error('SPF deadline passed')
const expired = () => EXPIRED

/** Results kept per resolver; a result lives no longer than the shortest-lived record it read. */
const CACHE_ENTRIES = 10_000
const CACHE_MAX_TTL_MS = 3_600_000

/** A cached result; its comment is split where the sender's address went, to be filled in again. */
interface Cached {
  result: SpfResultName
  domain: string
  comment: string[]
}

const caches = new WeakMap<Resolver, LRUCache<string, Cached>>()

/** mailauth (with joi and ipaddr.js) is loaded at the first evaluation: a relay without SPF checks does without it. */
let spfModule: Promise<typeof mailauthSpf> | null = null
const loadSpf = () => (spfModule ??= import('mailauth/lib/spf/index.js').then((m) => m.spf))

function cacheOf(resolver: Resolver): LRUCache<string, Cached> {
  let cache = caches.get(resolver)
  if (!cache) {
    // ttlResolution 0: the clock is read at each get, no timer per entry.
    cache = growingLru<string, Cached>(CACHE_ENTRIES, { ttl: 1, ttlResolution: 0 })
    caches.set(resolver, cache)
  }
  return cache
}

/** The domain as mailauth names it: after the last @, or "-" for none. */
const domainOf = (sender: string) => sender.slice(sender.lastIndexOf('@') + 1).trim().toLowerCase() || '-'

/** The key of a domain whose records use macros: its results may depend on the whole sender and the HELO name too. */
const macroKey = (plainKey: string, query: SpfQuery) => `${plainKey} ${query.sender} ${query.helo}`

/**
 * Evaluates SPF with mailauth through the relay's resolver. `deadlineMs` bounds the whole
 * evaluation (up to 10 DNS lookups): past it the result is temperror, as for a DNS timeout.
 *
 * Results are cached per (identity, domain, client address), for as long as every record the
 * evaluation read is still cached by the resolver (their TTLs): a repeat sender costs one map
 * lookup instead of mailauth's parsing and address matching. A domain whose records use
 * macros (RFC 7208 section 7) may depend on the local part or the HELO name too, so its
 * results are keyed on the whole sender and HELO. A temperror is never cached.
 */
export async function evaluateSpf(resolver: Resolver, query: SpfQuery, deadlineMs: number): Promise<SpfOutcome> {
  const cache = resolver.remainingTtlMs ? cacheOf(resolver) : null
  const domain = domainOf(query.sender)
  const plainKey = `${query.identity} ${domain} ${query.ip} ${query.hostname}`
  const hit = cache && (cache.get(plainKey) ?? cache.get(macroKey(plainKey, query)))
  if (hit) return { result: hit.result, domain: hit.domain, comment: hit.comment.join(query.sender) }

  const read: [string, string][] = []
  let macros = false
  const spf = await loadSpf()
  const evaluation = spf({
    sender: query.sender,
    ip: query.ip,
    helo: query.helo,
    mta: query.hostname,
    resolver: async (name, rrtype) => {
      read.push([name, rrtype])
      const answer = await resolver.resolve(name, rrtype)
      if (rrtype === 'TXT' && !macros && JSON.stringify(answer).includes('%{')) macros = true
      return answer
    },
  })
  // The pipeline's shared deadline sweep, not a timer per egress address and message.
  const r = await withDeadline(evaluation, deadlineMs, expired).catch((err: unknown) => {
    if (err === EXPIRED) return null
    throw err
  })
  if (!r) {
    return { result: 'temperror', domain, comment: `${query.hostname}: SPF evaluation for ${domain} took longer than ${deadlineMs} ms` }
  }
  const outcome: SpfOutcome = { result: r.status.result, domain: r.domain, comment: r.status.comment ?? '' }
  if (cache && resolver.remainingTtlMs && outcome.result !== 'temperror' && read.length > 0) {
    let ttl = CACHE_MAX_TTL_MS
    for (const [name, rrtype] of read) ttl = Math.min(ttl, resolver.remainingTtlMs(name, rrtype))
    // A TTL of 0 keeps nothing (lru-cache would take 0 as "forever").
    if (ttl > 0) {
      const comment = query.sender ? outcome.comment.split(query.sender) : [outcome.comment]
      cache.set(macros ? macroKey(plainKey, query) : plainKey, { result: outcome.result, domain: outcome.domain, comment }, { ttl })
    }
  }
  return outcome
}
