import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { dnsClients, runClient } from './dns/clients.js'
import { startDnsProcess } from './dns/start.js'
import type { ClientRun } from './dns/clients.js'
import { freshAddress, sendMessages, zipfSources } from './dns/message-client.js'
import { findProgram, startSmtpSink } from './postfix-tools.js'
import { freePort } from './ports.js'
import { relayEntry, startRelayProcess } from './relay-process.js'
import type { RelayProcess } from './relay-process.js'
import { median, quantile } from './stats.js'
import { HARNESS_OPTIONS, int, ms, positiveOption, progress } from './common.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

const USAGE = `Usage: npm run bench:dns -- [options]

The DNS side of the relay, measured in one run on this machine against a local DNS server
(dns2's server, in its own process):
  1. the resolver: node's c-ares resolver, dns2's UDP client and the relay's own resolver
     (cache off), lookups per second, latency and CPU per lookup;
  2. the latency a message gains with N DNSBL zones (mail.dnsbl), against the same relay
     without DNS checks, every message from a customer address not seen before (no cache);
  3. the cache-hit ratio on a realistic mix of customers, and that mix's added latency.
Prints Markdown on stdout, progress on stderr.

Options:
  --quick            smoke run: one round of a few hundred messages and lookups (CI)
  --rounds N         interleaved rounds; medians are reported (default 3)
  --messages N       messages per scenario and round (default 1500)
  --lookups N        lookups per resolver client and round (default 20000)
  --zones LIST       numbers of DNSBL zones to compare (default 1,4,8)
  --no-build         use the existing dist/ instead of compiling src/ first
`

interface Settings {
  rounds: number
  messages: number
  lookups: number
  zones: number[]
  mixMessages: number
  mixClients: number
  build: boolean
}

function settings(argv: string[]): Settings | null {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      ...HARNESS_OPTIONS,
      messages: { type: 'string' },
      lookups: { type: 'string' },
      zones: { type: 'string', default: '1,4,8' },
    },
  })
  if (values.help) return null
  const quick = values.quick
  const zones = values.zones.split(',').map((z) => positiveOption('zones', z, 1))
  if (zones.some((z) => z > 8)) throw new Error('--zones: the bench DNS server serves 8 zones')
  return {
    rounds: positiveOption('rounds', values.rounds, quick ? 1 : 3),
    messages: positiveOption('messages', values.messages, quick ? 100 : 1500),
    lookups: positiveOption('lookups', values.lookups, quick ? 1000 : 20000),
    zones,
    mixMessages: quick ? 300 : 20000,
    mixClients: quick ? 100 : 5000,
    build: !values['no-build'],
  }
}


/** The bench relay's policy with `zones` DNSBL zones in mail.dnsbl (none: no DNS checks). */
function policy(port: number, admin: number, dnsPort: number, sinkPort: number, zones: number): Record<string, unknown> {
  const names = Array.from({ length: zones }, (_, i) => `bl${i + 1}`)
  return {
    hostname: 'relay.bench.example',
    admin: { address: '127.0.0.1', port: admin },
    dns: { servers: [`127.0.0.1:${dnsPort}`], timeout: '2s', tries: 2 },
    dns_lists: { lists: Object.fromEntries(names.map((n) => [n, { zone: `${n}.bench.test` }])) },
    log: { level: 'info' },
    instances: {
      outbound: {
        listeners: [{ name: 'bench', address: '127.0.0.1', port, tls: 'none' }],
        relay: { networks: ['127.0.0.0/8'] },
        next_hops: [{ host: '127.0.0.1', port: sinkPort, tls: 'none', max_connections: 20 }],
        limits: { drain_timeout: '5s' },
        checks: zones ? [{ check: 'mail.dnsbl', lists: names.map((list) => ({ list })) }] : [],
      },
    },
  }
}

/** Per-round figures of one relay at one concurrency. */
interface Figures {
  p50: number[]
  p99: number[]
  rate: number[]
}

interface Scenario {
  zones: number
  relay: RelayProcess
  admin: number
  /** By concurrency. */
  figures: Map<number, Figures>
}

/** The relay's resolver cache counters, from its /metrics. */
async function cacheCounters(admin: number): Promise<Record<'hit' | 'miss' | 'joined', number>> {
  const text = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text()
  const value = (result: string) => Number(new RegExp(`^smarthost_dns_cache_lookups_total\\{result="${result}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0)
  return { hit: value('hit'), miss: value('miss'), joined: value('joined') }
}

/** Messages in flight: one at a time (the latency a message gains), and 8 (under load). */
const CONCURRENCY = [1, 8]
const SIZE = 5120

async function main(): Promise<number> {
  const s = settings(process.argv.slice(2))
  if (!s) {
    process.stdout.write(USAGE)
    return 0
  }
  const sinkProgram = await findProgram('smtp-sink')
  const main = await relayEntry(ROOT, s.build)
  const dir = await mkdtemp(join(os.tmpdir(), 'shg-bench-dns-'))
  const dns = await startDnsProcess()
  const sink = await startSmtpSink(sinkProgram, await freePort())
  const relays: RelayProcess[] = []
  try {
    // 1. Resolver clients, interleaved.
    const clients = dnsClients(dns.port)
    const runs = new Map<string, ClientRun[]>(clients.map((c) => [c.name, []]))
    for (const c of clients) await runClient(c, Math.min(2000, s.lookups), 16, 0)
    for (let round = 0; round < s.rounds; round++) {
      for (const c of clients) {
        const r = await runClient(c, s.lookups, 16, round * 997)
        runs.get(c.name)?.push(r)
        progress(`round ${round + 1} ${c.name}: ${int(r.rate)} lookups/s, p50 ${ms(r.p50Ms)} ms, ${r.cpuUsPerLookup.toFixed(1)} µs CPU/lookup`)
      }
    }

    // 2. Added latency with N zones, every message from a new customer address.
    const start = async (zones: number): Promise<Scenario> => {
      const admin = await freePort()
      const relay = await startRelayProcess({
        main,
        dir,
        sinkPort: sink.port,
        logLevel: 'info',
        poolSize: 20,
        policy: (port) => policy(port, admin, dns.port, sink.port, zones),
      })
      relays.push(relay)
      return { zones, relay, admin, figures: new Map(CONCURRENCY.map((c) => [c, { p50: [], p99: [], rate: [] }])) }
    }
    const scenarios: Scenario[] = []
    for (const zones of [0, ...s.zones]) scenarios.push(await start(zones))
    let offset = 0
    const run = async (sc: Scenario, total: number, concurrency: number, source?: (i: number) => string) => {
      const from = source ?? freshAddress(offset)
      offset += total
      return sendMessages({ port: sc.relay.port, total, concurrency, source: from, size: SIZE })
    }
    for (const sc of scenarios) await run(sc, Math.min(300, s.messages), 8)
    for (let round = 0; round < s.rounds; round++) {
      for (const concurrency of CONCURRENCY) {
        for (const sc of scenarios) {
          const r = await run(sc, s.messages, concurrency)
          const sorted = r.latencies.sort()
          const f = sc.figures.get(concurrency) as Figures
          f.p50.push(quantile(sorted, 0.5))
          f.p99.push(quantile(sorted, 0.99))
          f.rate.push(s.messages / r.seconds)
          progress(
            `round ${round + 1} ${sc.zones} zones, ${concurrency} at a time: p50 ${ms(quantile(sorted, 0.5))} ms, ` +
              `p99 ${ms(quantile(sorted, 0.99))} ms, ${int(s.messages / r.seconds)} msg/s`,
          )
        }
      }
    }

    // 3. A realistic mix of customers through a fresh relay with the most zones, and the same
    //    sequence through the relay without DNS checks.
    const mixZones = Math.max(...s.zones)
    const mixed = await start(mixZones)
    const base = scenarios[0] as Scenario
    const sources = zipfSources(s.mixClients, s.mixMessages, 1.1, (k) => `127.250.${Math.floor(k / 250)}.${(k % 250) + 1}`)
    const before = await cacheCounters(mixed.admin)
    const queries0 = await dns.queries()
    const mixRun = await run(mixed, s.mixMessages, 8, sources)
    const queries1 = await dns.queries()
    const after = await cacheCounters(mixed.admin)
    const baseRun = await run(base, s.mixMessages, 8, (i) => sources(i).replace('127.250.', '127.251.'))
    const hit = after.hit - before.hit
    const miss = after.miss - before.miss
    const joined = after.joined - before.joined
    const distinct = new Set(Array.from({ length: s.mixMessages }, (_, i) => sources(i))).size
    const sortedMix = mixRun.latencies.sort()
    const sortedBase = baseRun.latencies.sort()

    const lines = [
      '## smarthost-guard DNS benchmark',
      '',
      `${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'CPU'}, Node ${process.version}, load average ${os.loadavg()[0]?.toFixed(2)} at the end. ` +
        `DNS server: dns2 in its own process on 127.0.0.1; relay: node dist/main.js, one process per scenario; ` +
        `medians of ${s.rounds} interleaved round${s.rounds > 1 ? 's' : ''}.`,
      '',
      '### Resolver: lookups of distinct names, 16 in flight, no cache',
      '',
      '| client | lookups/s | p50 ms | p99 ms | CPU µs per lookup |',
      '|---|--:|--:|--:|--:|',
      ...clients.map((c) => {
        const r = runs.get(c.name) ?? []
        const m = (f: (x: ClientRun) => number) => median(r.map(f))
        return `| ${c.name} | ${int(m((x) => x.rate))} | ${ms(m((x) => x.p50Ms))} | ${ms(m((x) => x.p99Ms))} | ${m((x) => x.cpuUsPerLookup).toFixed(1)} |`
      }),
      '',
      `### Added latency per message with N DNSBL zones (a new connection per message, ${SIZE}-byte body, every client address new: no cache hits)`,
      '',
      'Connect to the final 250, one message at a time and 8 at a time (closed loop); added = the same round\u2019s figure minus the baseline\u2019s.',
      '',
      '| DNSBL zones | 1 at a time: p50 ms | added p50 | added p99 | 8 at a time: p50 ms | added p50 | added p99 | msg/s |',
      '|--:|--:|--:|--:|--:|--:|--:|--:|',
      ...scenarios.map((sc) => {
        const cells = CONCURRENCY.flatMap((c) => {
          const f = sc.figures.get(c) as Figures
          const b = base.figures.get(c) as Figures
          const added = (xs: number[], ys: number[]) => median(xs.map((x, i) => x - (ys[i] ?? NaN)))
          const row = [ms(median(f.p50)), sc.zones ? ms(added(f.p50, b.p50)) : '\u2014', sc.zones ? ms(added(f.p99, b.p99)) : '\u2014']
          return c === CONCURRENCY.at(-1) ? [...row, int(median(f.rate))] : row
        })
        return `| ${sc.zones || 'none (baseline)'} | ${cells.join(' | ')} |`
      }),
      '',
      `### Cache on a realistic mix: ${int(s.mixMessages)} messages from ${int(distinct)} of ${int(s.mixClients)} customer addresses (Zipf, s = 1.1), ${mixZones} zones`,
      '',
      '| cache hits | shared in flight | misses | hit ratio | DNS queries per message | p50 ms (baseline) | p99 ms (baseline) |',
      '|--:|--:|--:|--:|--:|--:|--:|',
      `| ${int(hit)} | ${int(joined)} | ${int(miss)} | ${(((hit + joined) / Math.max(1, hit + joined + miss)) * 100).toFixed(1)} % | ` +
        `${((queries1 - queries0) / s.mixMessages).toFixed(2)} | ${ms(quantile(sortedMix, 0.5))} (${ms(quantile(sortedBase, 0.5))}) | ` +
        `${ms(quantile(sortedMix, 0.99))} (${ms(quantile(sortedBase, 0.99))}) |`,
      '',
      'Lookups per message: one PTR (smtp-server, before the greeting) plus one A query per zone at MAIL FROM.',
    ]
    process.stdout.write(lines.join('\n') + '\n')
    return 0
  } finally {
    await Promise.all(relays.map((r) => r.stop()))
    await sink.stop()
    dns.child.send('stop')
    await rm(dir, { recursive: true, force: true })
  }
}

main().then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    process.stderr.write(`bench:dns: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exitCode = 1
  },
)
