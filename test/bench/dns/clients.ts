import { promises as nodeDns } from 'node:dns'
import dns2 from 'dns2'
import { createResolver } from '../../../src/dns/resolver.js'
import { quantile } from '../stats.js'

/** One DNS client under test: resolves an A record, throws on failure. */
export interface DnsClient {
  name: string
  lookup(name: string): Promise<unknown>
}

/**
 * The three ways the relay could talk to its resolver, all without a cache so that every
 * lookup goes to the server: node's c-ares resolver, dns2's UDP client, and the relay's own
 * resolver with its cache turned off (dns-packet on a connected UDP socket per query).
 */
export function dnsClients(port: number): DnsClient[] {
  const cares = new nodeDns.Resolver({ timeout: 2000, tries: 1 })
  cares.setServers([`127.0.0.1:${port}`])
  const udp = dns2.UDPClient({ dns: '127.0.0.1', port, timeout: 2000 })
  const ours = createResolver({ servers: [`127.0.0.1:${port}`], timeoutMs: 2000, tries: 1, cache: { maxEntries: 0, maxTtlMs: 0, negativeTtlMs: 0 } })
  return [
    { name: 'node c-ares (dns.promises.Resolver)', lookup: (n) => cares.resolve4(n) },
    {
      name: 'dns2 UDPClient',
      lookup: async (n) => {
        const answer = await udp(n, 'A')
        if (!answer.answers.length) throw new Error(`no answer for ${n}`)
        return answer.answers
      },
    },
    { name: 'relay resolver, cache off (dns-packet, own sockets)', lookup: (n) => ours.resolve(n, 'A') },
  ]
}

/** What one run of a client measured. */
export interface ClientRun {
  /** Lookups per second with `concurrency` lookups in flight. */
  rate: number
  p50Ms: number
  p99Ms: number
  /** CPU of this process per lookup, in microseconds (the cost the relay would carry). */
  cpuUsPerLookup: number
}

/** Runs `total` lookups of distinct names, `concurrency` at a time (closed loop). */
export async function runClient(client: DnsClient, total: number, concurrency: number, offset: number): Promise<ClientRun> {
  const latencies = new Float64Array(total)
  let next = 0
  const started = performance.now()
  const usage0 = process.cpuUsage()
  const worker = async () => {
    while (next < total) {
      const i = next++
      const t = performance.now()
      await client.lookup(`${(offset + i) % 5000}.names.bench.test`)
      latencies[i] = performance.now() - t
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  const seconds = (performance.now() - started) / 1000
  const usage = process.cpuUsage(usage0)
  const sorted = latencies.sort()
  return {
    rate: total / seconds,
    p50Ms: quantile(sorted, 0.5),
    p99Ms: quantile(sorted, 0.99),
    cpuUsPerLookup: (usage.user + usage.system) / total,
  }
}
