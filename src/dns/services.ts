import { isDeepStrictEqual } from 'node:util'
import type { Logger } from 'pino'
import type { LoadedPolicy } from '../config/load.js'
import type { InstanceName } from '../config/schema.js'
import { reportDnsCacheEntries } from '../metrics/dns-metrics.js'
import { dnsCheckContext } from './check-context.js'
import type { DnsCheckContext } from './check-context.js'
import { DnsLists } from './dns-lists.js'
import { EgressWatch } from './egress-watch.js'
import { createResolver } from './resolver.js'
import type { DnsSettings, Resolver } from './resolver.js'

/** The resolver settings of a policy tree. */
export function dnsSettings(loaded: LoadedPolicy): DnsSettings {
  const dns = loaded.policy.dns
  const cache = {
    maxEntries: dns.cache.max_entries,
    maxTtlMs: dns.cache.max_ttl,
    negativeTtlMs: dns.cache.negative_ttl,
    failureTtlMs: dns.cache.failure_ttl,
  }
  return { servers: dns.servers, timeoutMs: dns.timeout, tries: dns.tries, cache }
}

/**
 * The process's DNS side for one policy snapshot: the resolver, the DNS lists with their
 * health checks, and the egress watch. A reload builds the next one from the previous: the
 * resolver (and its cache) is kept when `dns:` did not change, and so is the health of
 * unchanged lists; new lists are checked before the new policy takes effect.
 */
export class DnsServices {
  readonly resolver: Resolver
  readonly lists: DnsLists
  readonly egress: EgressWatch
  readonly #settings: DnsSettings

  private constructor(loaded: LoadedPolicy, log: Logger, previous?: DnsServices) {
    this.#settings = dnsSettings(loaded)
    this.resolver =
      previous && isDeepStrictEqual(previous.#settings, this.#settings) ? previous.resolver : createResolver(this.#settings)
    const dnsLog = log.child({ component: 'dns' })
    this.lists = new DnsLists(loaded.policy.dns_lists, this.resolver, dnsLog)
    this.egress = new EgressWatch(loaded.policy.egress, this.lists, this.resolver, dnsLog)
    if (previous) {
      this.lists.inherit(previous.lists)
      this.egress.inherit(previous.egress)
    }
  }

  /** Builds the DNS side of a policy and checks the health of its lists (bounded by dns.timeout × tries). */
  static async create(loaded: LoadedPolicy, log: Logger, previous?: DnsServices): Promise<DnsServices> {
    const services = new DnsServices(loaded, log, previous)
    await services.lists.checkUnknown()
    return services
  }

  /** The DNS side of a policy without any lookup: for validating and compiling a tree offline. */
  static offline(loaded: LoadedPolicy, log: Logger): DnsServices {
    return new DnsServices(loaded, log)
  }

  /** What the DNS checks of an instance get in CheckDeps. */
  context(loaded: LoadedPolicy, name: InstanceName): DnsCheckContext {
    return dnsCheckContext(loaded, name, this.lists)
  }

  /**
   * Starts the periodic health checks and the egress watch; this resolver's cache is the one the
   * metrics report. A worker of `serve --workers N` leaves the egress watch to the primary, whose
   * round the alerting reads: N more processes would only ask the lists the same questions.
   */
  start(opts: { egressWatch?: boolean } = {}): void {
    const resolver = this.resolver
    reportDnsCacheEntries(() => resolver.cacheEntries())
    this.lists.start()
    if (opts.egressWatch !== false) this.egress.start()
  }

  stop(): void {
    this.lists.stop()
    this.egress.stop()
  }
}
