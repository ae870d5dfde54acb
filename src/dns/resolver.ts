import { isIPv4 } from 'node:net'
import type { LRUCache } from 'lru-cache'
import { expandIPv6, unmapIPv4 } from '../relay/ip.js'
import { outcomeOf, copyOf } from './answers.js'
import type { Outcome, ResolvedValue } from './answers.js'
import { formatServer, parseServer, systemServers } from './servers.js'
import type { DnsServer } from './servers.js'
import { queryTcp, RR_TYPES, TransportError } from './transport.js'
import type { DnsMessage, RrType } from './transport.js'
import { UdpChannels } from './udp-channels.js'
import {
  dnsCacheLookupsFor,
  dnsQueriesFor,
  dnsQueryDurationFor,
  dnsTcpFallbacks,
  dnsTimeoutsFor,
} from '../metrics/dns-metrics.js'
import { growingLru } from '../lru.js'

/** DNS settings from the policy tree (`dns:`). */
export interface DnsSettings {
  /** "addr", "addr:port" or "[v6]:port"; empty means the servers in /etc/resolv.conf. */
  servers: readonly string[]
  timeoutMs: number
  tries: number
  cache?: {
    maxEntries: number
    maxTtlMs: number
    negativeTtlMs: number
    /** How long a failed lookup is answered from the cache (BIND's servfail-ttl); 0: not at all. */
    failureTtlMs?: number
  }
}

/**
 * The one resolver the relay uses, injected into every check. It talks only to the servers
 * in the policy tree (or the system's), never to a library's built-in public resolvers.
 */
export interface Resolver {
  /** PTR names of an address; [] when there are none. */
  reverse(address: string): Promise<string[]>
  /**
   * dns.promises.resolve's contract (the one mailauth expects): NXDOMAIN is ENOTFOUND, NODATA is ENODATA.
   * `fresh` skips the cache (a lookup in flight is still shared) and caches the new answer:
   * for periodic watches whose period is shorter than the TTLs they would otherwise read.
   */
  resolve(name: string, rrtype: string, opts?: { fresh?: boolean }): Promise<unknown>
  /**
   * How much longer the cache answers `name`/`rrtype` as it does now, in ms; 0 when it holds
   * nothing for it (or caches nothing). What is built from lookups may be kept that long.
   */
  remainingTtlMs?(name: string, rrtype: string): number
  /** The servers queries go to, for logs and `check-config`. */
  servers(): string[]
  /** Answers (positive, negative, failures) held in the cache now, expired ones not yet dropped included. */
  cacheEntries(): number
}

/** Metric result of a failed lookup, by error code. */
const FAILURES: Record<string, string> = { ESERVFAIL: 'servfail', EREFUSED: 'refused', ETIMEOUT: 'timeout' }

const DEFAULT_CACHE = { maxEntries: 50_000, maxTtlMs: 3_600_000, negativeTtlMs: 900_000, failureTtlMs: 1000 }

/** Creates the caching resolver; `now` is the cache's clock in ms (tests move it; default performance.now). */
export function createResolver(settings: DnsSettings, opts: { now?: () => number } = {}): Resolver {
  return new CachingResolver(settings, opts.now)
}

/**
 * An error shaped like node's dns errors: `code` is what callers test. Most are answers, not
 * faults (every address a DNS list does not list is ENOTFOUND): no stack trace is captured.
 */
function dnsError(code: string, type: RrType, name: string, cause?: unknown): NodeJS.ErrnoException {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  const err: NodeJS.ErrnoException = new Error(`query${type} ${code} ${name}`, cause ? { cause } : undefined)
  Error.stackTraceLimit = limit
  err.code = code
  err.syscall = `query${type}`
  Object.assign(err, { hostname: name })
  return err
}

/** The query name of an address's PTR record (RFC 1035 in-addr.arpa, RFC 3596 ip6.arpa). */
export function reverseName(address: string): string {
  const plain = unmapIPv4(address)
  if (isIPv4(plain)) return `${plain.split('.').reverse().join('.')}.in-addr.arpa`
  return `${expandIPv6(plain).split('').reverse().join('.')}.ip6.arpa`
}

class CachingResolver implements Resolver {
  readonly #servers: DnsServer[]
  readonly #timeoutMs: number
  readonly #tries: number
  /** Null when cache.max_entries is 0: every lookup goes to the servers (in-flight sharing still applies). */
  readonly #cache: LRUCache<string, Outcome> | null
  readonly #maxTtlMs: number
  readonly #negativeTtlMs: number
  readonly #failureTtlMs: number
  readonly #inflight = new Map<string, Promise<Outcome>>()
  readonly #udp = new UdpChannels()

  constructor(settings: DnsSettings, now: (() => number) | undefined) {
    const configured = settings.servers.map((s) => {
      const parsed = parseServer(s)
      if (!parsed) throw new TypeError(`not a DNS server address: ${s}`)
      return parsed
    })
    this.#servers = configured.length ? configured : systemServers()
    this.#timeoutMs = settings.timeoutMs
    this.#tries = settings.tries
    const cache = settings.cache ?? DEFAULT_CACHE
    // Every entry gets its own TTL at set(); the default of 1 ms only turns TTL tracking on.
    // ttlResolution 0 reads the clock at each check: lru-cache would otherwise cache it behind
    // a timer armed on every lookup.
    this.#cache =
      cache.maxEntries > 0
        ? growingLru<string, Outcome>(cache.maxEntries, { ttl: 1, ttlResolution: 0, perf: now ? { now } : undefined })
        : null
    this.#maxTtlMs = cache.maxTtlMs
    this.#negativeTtlMs = cache.negativeTtlMs
    this.#failureTtlMs = cache.failureTtlMs ?? DEFAULT_CACHE.failureTtlMs
  }

  servers(): string[] {
    return this.#servers.map(formatServer)
  }

  cacheEntries(): number {
    return this.#cache?.size ?? 0
  }

  remainingTtlMs(name: string, rrtype: string): number {
    const key = `${rrtype.toUpperCase()} ${name.toLowerCase().replace(/\.$/, '')}`
    const outcome = this.#cache?.get(key)
    // A failure is cached only to spare the servers: nothing built on it should outlive it.
    if (!outcome || outcome.kind === 'failure') return 0
    return Math.max(0, this.#cache?.getRemainingTTL(key) ?? 0)
  }

  async reverse(address: string): Promise<string[]> {
    try {
      return (await this.resolve(reverseName(address), 'PTR')) as string[]
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ENOTFOUND' || code === 'ENODATA') return []
      throw err
    }
  }

  async resolve(name: string, rrtype: string, opts?: { fresh?: boolean }): Promise<ResolvedValue> {
    const type = rrtype.toUpperCase() as RrType
    if (!RR_TYPES.includes(type)) throw dnsError('ENOTIMP', type, name)
    const qname = name.toLowerCase().replace(/\.$/, '')
    const key = `${type} ${qname}`
    let outcome = opts?.fresh ? undefined : this.#cache?.get(key)
    if (outcome) {
      dnsCacheLookupsFor('hit').inc()
    } else {
      let pending = this.#inflight.get(key)
      if (pending) {
        dnsCacheLookupsFor('joined').inc()
      } else {
        dnsCacheLookupsFor('miss').inc()
        pending = this.#lookup(qname, type, key)
        this.#inflight.set(key, pending)
      }
      outcome = await pending
    }
    if (outcome.kind !== 'answer') throw dnsError(outcome.code, type, qname)
    return copyOf(outcome.value)
  }

  /**
   * Asks the servers in order, `tries` rounds; caches what the answer says for as long as its
   * TTL allows, and a failure for `failureTtlMs`, so that a broken server is not asked again
   * for the same question by every message of the next second.
   */
  async #lookup(qname: string, type: RrType, key: string): Promise<Outcome> {
    const started = performance.now()
    let outcome: Outcome
    try {
      outcome = outcomeOf(await this.#ask(qname, type), type)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (!code) {
        this.#inflight.delete(key)
        throw err
      }
      outcome = { kind: 'failure', code }
    }
    const result =
      outcome.kind === 'answer'
        ? 'answer'
        : outcome.kind === 'negative'
          ? outcome.code === 'ENOTFOUND'
            ? 'nxdomain'
            : 'nodata'
          : (FAILURES[outcome.code] ?? 'error')
    // Negative answers without an SOA are not cached (RFC 2308 section 5).
    const ttlMs =
      outcome.kind === 'answer'
        ? Math.min(outcome.ttlSec * 1000, this.#maxTtlMs)
        : outcome.kind === 'negative'
          ? Math.min((outcome.ttlSec ?? 0) * 1000, this.#negativeTtlMs)
          : this.#failureTtlMs
    // A TTL of 0 keeps nothing (lru-cache would take 0 as "forever").
    if (ttlMs > 0) this.#cache?.set(key, outcome, { ttl: ttlMs })
    this.#inflight.delete(key)
    dnsQueriesFor(type, result).inc()
    dnsQueryDurationFor(type).observe((performance.now() - started) / 1000)
    return outcome
  }

  /**
   * One answer with NOERROR or NXDOMAIN from the first server that gives one. A timeout, a
   * closed port, SERVFAIL or REFUSED moves on to the next server, then to the next round.
   * A truncated UDP answer is asked again over TCP at the same server.
   */
  async #ask(qname: string, type: RrType): Promise<DnsMessage> {
    let last: NodeJS.ErrnoException | null = null
    for (let round = 0; round < this.#tries; round++) {
      for (const server of this.#servers) {
        try {
          let message = await this.#udp.query(server, qname, type, this.#timeoutMs)
          if (message.truncated) {
            dnsTcpFallbacks.inc()
            message = await queryTcp(server, qname, type, this.#timeoutMs)
          }
          if (message.rcode === 'NOERROR' || message.rcode === 'NXDOMAIN') return message
          last = dnsError(message.rcode === 'REFUSED' ? 'EREFUSED' : 'ESERVFAIL', type, qname)
        } catch (err) {
          if (!(err instanceof TransportError)) throw err
          if (err.code === 'ETIMEOUT') dnsTimeoutsFor(formatServer(server)).inc()
          last = dnsError(err.code, type, qname, err)
        }
      }
    }
    throw last ?? dnsError('ESERVFAIL', type, qname)
  }
}
