import { Counter, Gauge, Histogram } from 'prom-client'
import { bound } from './bound.js'
import { registry } from './registry.js'

// The resolver is shared by every instance of the process, so these carry no relay_instance.

/** Lookups that went to the DNS servers (after the cache and in-flight sharing), by result. */
export const dnsQueries = new Counter({
  name: 'smarthost_dns_queries_total',
  help: 'DNS lookups sent to the servers, by record type and result (answer, nxdomain, nodata, servfail, refused, timeout, error)',
  labelNames: ['rrtype', 'result'] as const,
  registers: [registry],
})

/** Lookups answered from the cache (hit), shared with an identical one in flight (joined), or not (miss). */
export const dnsCacheLookups = new Counter({
  name: 'smarthost_dns_cache_lookups_total',
  help: 'DNS lookups by cache result: hit (answered from the cache), joined (shared an identical lookup in flight), miss',
  labelNames: ['result'] as const,
  registers: [registry],
})

/** Tries that got no answer within dns.timeout. */
export const dnsTimeouts = new Counter({
  name: 'smarthost_dns_timeouts_total',
  help: 'DNS tries that got no answer within dns.timeout, by server',
  labelNames: ['server'] as const,
  registers: [registry],
})

/** Truncated UDP answers asked again over TCP. */
export const dnsTcpFallbacks = new Counter({
  name: 'smarthost_dns_tcp_fallbacks_total',
  help: 'Truncated UDP answers asked again over TCP',
  registers: [registry],
})

/** Time of lookups that went to the servers, tries and TCP fallback included. */
export const dnsQueryDuration = new Histogram({
  name: 'smarthost_dns_query_duration_seconds',
  help: 'Time a DNS lookup sent to the servers took, by record type',
  labelNames: ['rrtype'] as const,
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  registers: [registry],
})

/** The size of the resolver in use, read at scrape time. */
let cacheEntries: () => number = () => 0

/** Answers in the cache now (read when scraped, not written on every lookup). */
export const dnsCacheEntries = new Gauge({
  name: 'smarthost_dns_cache_entries',
  help: 'DNS answers (positive and negative) held in the cache',
  registers: [registry],
  collect() {
    this.set(cacheEntries())
  },
})

/** Makes smarthost_dns_cache_entries report this cache: the resolver of the policy in effect. */
export function reportDnsCacheEntries(entries: () => number): void {
  cacheEntries = entries
}

/** (rrtype, result) */
export const dnsQueriesFor = bound((...v) => dnsQueries.labels(...v))
/** (result) */
export const dnsCacheLookupsFor = bound((...v) => dnsCacheLookups.labels(...v))
/** (server) */
export const dnsTimeoutsFor = bound((...v) => dnsTimeouts.labels(...v))
/** (rrtype) */
export const dnsQueryDurationFor = bound((...v) => dnsQueryDuration.labels(...v))
