import { isIPv4, isIPv6 } from 'node:net'
import { isDeepStrictEqual } from 'node:util'
import type { Logger } from 'pino'
import type { DnsListDefinition, DnsListsConfig } from '../config/dns-lists-schema.js'
import { dnsListHealthChecks, dnsListHealthy } from '../metrics/dns-check-metrics.js'
import { reportDegraded } from '../metrics/degraded.js'
import { unmapIPv4 } from '../relay/ip.js'
import { ipQueryName, lookupList } from './dnsbl-query.js'
import type { Resolver } from './resolver.js'
import { ReturnCodes } from './return-codes.js'

/** A DNS list as the checks use it. */
export interface DnsList extends DnsListDefinition {
  readonly name: string
  readonly returnCodes: ReturnCodes
  /** True when the list can be asked about this address: an ip list, and for IPv6 one that takes IPv6 queries. */
  accepts(address: string): boolean
  /** The list's lookup page for a query (an address or domain, URI-encoded into {query}); null without a url. */
  lookupUrl(query: string): string | null
}

/** A list definition from the policy, ready for the checks. */
function dnsList(name: string, def: DnsListDefinition): DnsList {
  return {
    ...def,
    name,
    returnCodes: new ReturnCodes(name, def.codes),
    accepts(address) {
      // An IPv4-mapped address is looked up as IPv4 (RFC 5782 section 2.1; ipQueryName unwraps it).
      const plain = unmapIPv4(address)
      return def.type === 'ip' && (isIPv4(plain) || (def.ipv6 && isIPv6(plain)))
    },
    lookupUrl: (query) => (def.url ? def.url.replaceAll('{query}', encodeURIComponent(query)) : null),
  }
}

/** First retry of a list that failed its health check; each further failure doubles it, up to check_every. */
export const RETRY_FIRST_MS = 2000

/** Health of a list: unknown until its first check. */
export type ListHealth = { state: 'unknown' } | { state: 'healthy' } | { state: 'unhealthy'; reason: string }

/**
 * The policy's DNS lists and their health, shared by the DNS list checks of every instance
 * and by the egress watch. Each list is checked with its RFC 5782 test points at start and
 * every `check_every`: a list that does not list its positive test point is dead (expired
 * domain, list shut down), one that lists the negative one lists everything; either is
 * skipped and reported until it passes again, so a broken list never refuses customers.
 * A list that fails is checked again sooner than `check_every` (2 s, then doubling): one
 * that failed because the resolver was not answering yet (restarting with the host) is back
 * within seconds rather than a whole interval later, while /readyz lists it as off.
 */
export class DnsLists {
  readonly #lists: Map<string, DnsList>
  readonly #health = new Map<string, ListHealth>()
  readonly #resolver: Resolver
  readonly #log: Logger
  readonly #everyMs: number
  #timer: NodeJS.Timeout | null = null
  /** Pending early re-checks of failing lists, with the delay that scheduled them. */
  readonly #retries = new Map<string, { timer: NodeJS.Timeout; delayMs: number }>()
  #started = false

  constructor(config: DnsListsConfig, resolver: Resolver, log: Logger) {
    this.#lists = new Map(Object.entries(config.lists).map(([name, def]) => [name, dnsList(name, def)]))
    this.#resolver = resolver
    this.#log = log
    this.#everyMs = config.check_every
    for (const name of this.#lists.keys()) this.#health.set(name, { state: 'unknown' })
  }

  get(name: string): DnsList | undefined {
    return this.#lists.get(name)
  }

  all(): DnsList[] {
    return [...this.#lists.values()]
  }

  health(name: string): ListHealth {
    return this.#health.get(name) ?? { state: 'unknown' }
  }

  /** A list is used when it passed its last health check, or has none configured. */
  usable(name: string): boolean {
    const list = this.#lists.get(name)
    if (!list) return false
    return !list.health_check || this.health(name).state === 'healthy'
  }

  /** Keeps the health of lists whose definition and resolver did not change (reload). */
  inherit(previous: DnsLists): void {
    if (previous.#resolver !== this.#resolver) return
    for (const [name, list] of this.#lists) {
      const old = previous.#lists.get(name)
      if (old && isDeepStrictEqual(definition(old), definition(list))) this.#health.set(name, previous.health(name))
    }
  }

  /** Checks every list with a health check whose state is unknown (all of them at start). */
  async checkUnknown(): Promise<void> {
    await Promise.all(this.all().filter((l) => l.health_check && this.health(l.name).state === 'unknown').map((l) => this.check(l)))
  }

  /** Checks every list now. */
  async checkAll(): Promise<void> {
    await Promise.all(this.all().filter((l) => l.health_check).map((l) => this.check(l)))
  }

  /** Runs the periodic checks and the early re-checks of failing lists (the timers do not keep the process alive). */
  start(): void {
    if (this.#started || !this.all().some((l) => l.health_check)) return
    this.#started = true
    this.#timer = setInterval(() => void this.checkAll(), this.#everyMs)
    this.#timer.unref()
    for (const list of this.all()) if (this.health(list.name).state === 'unhealthy') this.#retryLater(list, 0)
    reportDegraded(this, () => this.#off())
  }

  stop(): void {
    this.#started = false
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = null
    for (const retry of this.#retries.values()) clearTimeout(retry.timer)
    this.#retries.clear()
    reportDegraded(this, null)
  }

  /** The lists skipped now, for /readyz. */
  #off(): string[] {
    return this.all().flatMap((l) => {
      const health = this.health(l.name)
      if (!l.health_check || health.state !== 'unhealthy') return []
      const retry = this.#retries.get(l.name)
      return [`dns list ${l.name} (${l.zone}) is off: ${health.reason}${retry ? `; checked again within ${Math.ceil(retry.delayMs / 1000)} s` : ''}`]
    })
  }

  /** Checks a failing list again after a delay doubling from RETRY_FIRST_MS (`previousMs` 0: the first), up to check_every. */
  #retryLater(list: DnsList, previousMs: number): void {
    if (!this.#started || this.#retries.has(list.name)) return
    const delayMs = Math.min(this.#everyMs, previousMs ? previousMs * 2 : RETRY_FIRST_MS)
    const timer = setTimeout(() => {
      this.#retries.delete(list.name)
      void this.check(list).then((health) => {
        // Past check_every, the periodic check alone goes on.
        if (health.state === 'unhealthy' && delayMs < this.#everyMs) this.#retryLater(list, delayMs)
      })
    }, delayMs)
    timer.unref()
    this.#retries.set(list.name, { timer, delayMs })
  }

  /** One health check of one list (RFC 5782 section 5). */
  async check(list: DnsList): Promise<ListHealth> {
    const [positive, negative] =
      list.type === 'ip'
        ? [ipQueryName('127.0.0.2', list.zone), ipQueryName('127.0.0.1', list.zone)]
        : [`test.${list.zone}`, `invalid.${list.zone}`]
    // Past the cache: a test point's answer (or NXDOMAIN, for up to dns.cache.negative_ttl) would
    // otherwise hide a list that broke since, or recovered, for longer than check_every.
    const [pos, neg] = await Promise.all([
      lookupList(this.#resolver, positive, list.returnCodes, FRESH),
      lookupList(this.#resolver, negative, list.returnCodes, FRESH),
    ])
    let result: string
    let health: ListHealth
    const failed = pos.status === 'error' ? pos : neg.status === 'error' ? neg : null
    if (failed) {
      result = 'no_answer'
      health = { state: 'unhealthy', reason: `no usable answer for its test points (${failed.reason})` }
    } else if (neg.status === 'listed') {
      result = 'lists_everything'
      health = { state: 'unhealthy', reason: `lists the test point ${negative} that must never be listed` }
    } else if (pos.status === 'clean') {
      result = 'test_point_not_listed'
      health = { state: 'unhealthy', reason: `does not list its test point ${positive}` }
    } else {
      result = 'healthy'
      health = { state: 'healthy' }
    }
    dnsListHealthChecks.labels(list.name, result).inc()
    dnsListHealthy.labels(list.name).set(health.state === 'healthy' ? 1 : 0)
    const before = this.health(list.name)
    this.#health.set(list.name, health)
    if (health.state === 'unhealthy' && before.state !== 'unhealthy') this.#retryLater(list, 0)
    if (health.state === 'healthy') {
      const retry = this.#retries.get(list.name)
      if (retry) clearTimeout(retry.timer)
      this.#retries.delete(list.name)
    }
    if (health.state === 'unhealthy' && before.state !== 'unhealthy') {
      this.#log.warn({ event: 'dnslist_unhealthy', list: list.name, zone: list.zone, reason: health.reason }, `DNS list ${list.name} (${list.zone}) is skipped: ${health.reason}`)
    } else if (health.state === 'healthy' && before.state === 'unhealthy') {
      this.#log.info({ event: 'dnslist_healthy', list: list.name, zone: list.zone }, `DNS list ${list.name} (${list.zone}) answers correctly again`)
    }
    return health
  }
}

const FRESH = { fresh: true } as const

/** The parts of a list that its health depends on. */
const definition = (l: DnsList) => ({ zone: l.zone, type: l.type, codes: l.codes, health_check: l.health_check })
