import type { Logger } from 'pino'
import type { EgressConfig } from '../config/dns-lists-schema.js'
import { egressChecks, egressLastCheck, egressListed } from '../metrics/dns-check-metrics.js'
import type { DnsLists } from './dns-lists.js'
import { ipQueryName, lookupList } from './dnsbl-query.js'
import type { Resolver } from './resolver.js'

/** What the watch found for one egress address in one list. */
export interface EgressFinding {
  egress: string
  list: string
  status: 'listed' | 'clean' | 'error' | 'skipped'
  /** Sub-lists and codes, when listed. */
  detail?: string
}

/**
 * Looks the relay's own egress addresses up in the block lists, at start and every
 * `egress.watch.every`. The moment one is found listed, `smarthost_egress_listed` turns 1 and
 * an `egress_listed` event is logged at error level (with the list's lookup URL), so the NOC
 * hears of it before the delisting work starts; `egress_delisted` when it is gone.
 * Unhealthy lists are skipped, as for customers.
 */
export class EgressWatch {
  readonly #addresses: readonly string[]
  readonly #lists: DnsLists
  readonly #names: readonly string[]
  readonly #resolver: Resolver
  readonly #log: Logger
  readonly #everyMs: number
  readonly #listed = new Set<string>()
  #timer: NodeJS.Timeout | null = null
  #round: Promise<EgressFinding[]> | null = null
  #last: readonly EgressFinding[] = []

  constructor(config: EgressConfig, lists: DnsLists, resolver: Resolver, log: Logger) {
    this.#addresses = config.addresses
    this.#lists = lists
    this.#names = config.watch.lists ?? lists.all().filter((l) => l.type === 'ip' && l.kind === 'block').map((l) => l.name)
    this.#resolver = resolver
    this.#log = log
    this.#everyMs = config.watch.every
  }

  /** True when there is something to watch. */
  get active(): boolean {
    return this.#addresses.length > 0 && this.#names.length > 0
  }

  /** Keeps what the previous watch knew was listed, so a reload does not report it again. */
  inherit(previous: EgressWatch): void {
    for (const key of previous.#listed) this.#listed.add(key)
  }

  /** Runs a round now and then every `every` (the timer does not keep the process alive). */
  start(): void {
    if (!this.active || this.#timer) return
    void this.check()
    this.#timer = setInterval(() => void this.check(), this.#everyMs)
    this.#timer.unref()
  }

  /** What the latest finished round found (the alerting reads it). */
  get lastRound(): readonly EgressFinding[] {
    return this.#last
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = null
  }

  /** One round over every egress address and list; a round already running is shared. */
  check(): Promise<EgressFinding[]> {
    this.#round ??= this.#check().finally(() => (this.#round = null))
    return this.#round
  }

  async #check(): Promise<EgressFinding[]> {
    const lookups = this.#addresses.flatMap((egress) => this.#names.map((name) => this.#one(egress, name)))
    const findings = await Promise.all(lookups)
    egressLastCheck.set(Date.now() / 1000)
    this.#last = findings
    return findings
  }

  async #one(egress: string, name: string): Promise<EgressFinding> {
    const list = this.#lists.get(name)
    if (!list || !this.#lists.usable(name) || !list.accepts(egress)) {
      egressChecks.labels(name, 'skipped').inc()
      return { egress, list: name, status: 'skipped' }
    }
    // Past the cache: a listing (or its absence) cached for its TTL would be seen late.
    const result = await lookupList(this.#resolver, ipQueryName(egress, list.zone), list.returnCodes, { fresh: true })
    egressChecks.labels(name, result.status).inc()
    const key = `${egress} ${name}`
    if (result.status === 'error') return { egress, list: name, status: 'error', detail: result.reason }
    if (result.status === 'clean') {
      egressListed.labels(egress, name).set(0)
      if (this.#listed.delete(key)) {
        this.#log.info({ event: 'egress_delisted', egress, list: name, zone: list.zone }, `egress address ${egress} is no longer listed in ${list.zone}`)
      }
      return { egress, list: name, status: 'clean' }
    }
    const detail = `${result.subLists.join(', ')} (${result.codes.join(', ')})`
    egressListed.labels(egress, name).set(1)
    if (!this.#listed.has(key)) {
      this.#listed.add(key)
      const url = list.lookupUrl(egress)
      this.#log.error(
        { event: 'egress_listed', egress, list: name, zone: list.zone, sub_lists: result.subLists, codes: result.codes, url },
        `egress address ${egress} is listed in ${list.zone}: ${detail}${url ? `; ${url}` : ''}`,
      )
    }
    return { egress, list: name, status: 'listed', detail }
  }
}
