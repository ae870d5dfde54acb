import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { statsSchema } from '../../src/stats/schema.js'
import { spawnChild } from '../helpers/children.js'
import { startRedisServer } from '../helpers/redis.js'
import { findProgram, startSmtpSink } from './postfix-tools.js'
import { freePort } from './ports.js'
import { relayEntry, startRelayProcess } from './relay-process.js'
import type { BenchPolicy, RelayProcess } from './relay-process.js'
import { pairedRounds } from './rounds.js'
import type { Scenario } from './report.js'
import { median } from './stats.js'
import { HARNESS_OPTIONS, positiveOption, progress } from './common.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const MEMORY_PROBE = fileURLToPath(new URL('./stats-memory.ts', import.meta.url))
const LISTENER_PROBE = fileURLToPath(new URL('./stats-listener.ts', import.meta.url))

/** The cost the statistics may add, as a share of the throughput without them. */
const GOAL = 0.1

const USAGE = `Usage: npm run bench:stats -- [options]

Per-message cost of the per-client statistics, with the memory and the Redis backend, as a
ratio to the same relay with statistics off, in one run on this machine; then the memory the
statistics hold after 1,000,000 distinct clients, and the CPU they take per message in process,
without SMTP. Prints Markdown on stdout, progress on stderr.

Options:
  --quick          smoke run: one round of a few hundred messages, 100,000 clients (CI)
  --rounds N       interleaved rounds over the three relays; medians are reported (default 5)
  --messages N     messages per run (default 6000)
  --sessions N     parallel SMTP sessions (default 20)
  --clients N      distinct clients for the memory figure (default 1000000)
  --no-build       use the existing dist/ instead of compiling src/ first
`

interface Variant {
  name: 'stats off' | 'memory' | 'redis'
  patch: (p: BenchPolicy) => void
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    strict: true,
    options: {
      ...HARNESS_OPTIONS,
      messages: { type: 'string' },
      sessions: { type: 'string', default: '20' },
      clients: { type: 'string' },
    },
  })
  if (values.help) {
    process.stdout.write(USAGE)
    return 0
  }
  const quick = values.quick
  const rounds = positiveOption('rounds', values.rounds, quick ? 1 : 5)
  const messages = positiveOption('messages', values.messages, quick ? 300 : 6000)
  const sessions = positiveOption('sessions', values.sessions, 20)
  const clients = positiveOption('clients', values.clients, quick ? 100_000 : 1_000_000)
  const listenerMessages = quick ? 20_000 : 200_000

  const [source, sinkProgram] = await Promise.all([findProgram('smtp-source'), findProgram('smtp-sink')])
  const main = await relayEntry(ROOT, !values['no-build'])
  const dir = await mkdtemp(join(os.tmpdir(), 'shg-bench-stats-'))
  const sink = await startSmtpSink(sinkProgram, await freePort())
  const redis = await startRedisServer()
  // The statistics are on by default: the baseline turns them off, the others keep the defaults.
  const variants: Variant[] = [
    { name: 'stats off', patch: (p) => (p.stats = { enabled: false }) },
    { name: 'memory', patch: () => undefined },
    { name: 'redis', patch: (p) => (p.state = { backend: 'redis', redis: { url: redis.url, key_prefix: 'bench:' } }) },
  ]
  const relays: RelayProcess[] = []
  try {
    for (const v of variants) {
      relays.push(
        await startRelayProcess({ main, dir, sinkPort: sink.port, logLevel: 'info', poolSize: sessions, patch: v.patch }),
      )
    }
    const loads: Scenario[] = [
      { label: 'persistent sessions, 1 rcpt', load: { sessions, size: 5120, recipients: 1, reuse: true } },
      { label: 'new connection per message, 1 rcpt', load: { sessions, size: 5120, recipients: 1, reuse: false } },
    ]
    // Per round as well as in total: a variant is compared with the stats-off run of its own round,
    // seconds apart, so load that other work puts on this shared machine cancels out of the ratio.
    // The warm-up also makes the Redis store's first flushes.
    const compared = relays.map((r, i) => ({ name: variants[i]!.name, port: r.port, pid: r.pid }))
    const figuresOf = await pairedRounds({ source, relays: compared, loads, rounds, messages, baseline: 'stats off' })
    const verdicts: string[] = []
    const rows = loads.flatMap((l) =>
      variants.map((v) => {
        const f = figuresOf(l.label, v.name)
        const ratio = median(f.ratio)
        if (v.name !== 'stats off') {
          const cost = 1 - ratio
          verdicts.push(`${l.label}, ${v.name}: ${(cost * 100).toFixed(0)} % of throughput (${cost <= GOAL ? 'within' : 'over'} the ${GOAL * 100} % goal)`)
        }
        const added = v.name === 'stats off' ? '—' : `${median(f.addedUs).toFixed(0)} µs (${(median(f.addedShare) * 100).toFixed(0)} %)`
        return `| ${l.label} | ${v.name} | ${Math.round(median(f.rate)).toLocaleString('en-US')} | ${(ratio * 100).toFixed(0)} % | ${median(f.cpuUs).toFixed(0)} | ${added} |`
      }),
    )
    progress(`in process: ${listenerMessages.toLocaleString('en-US')} messages of one client through the statistics, memory and Redis`)
    const listener = await probe<ListenerFigure[]>(LISTENER_PROBE, [String(listenerMessages), redis.url])
    const ownRows = listener.map((r) => {
      const label = loads.find((l) => l.label.startsWith(r.load))?.label ?? r.load
      const share = r.us / median(figuresOf(label, 'stats off').cpuUs)
      return `| ${r.load} | ${r.backend} | ${r.us.toFixed(1)} | ${(share * 100).toFixed(1)} % |`
    })
    progress(`memory: ${clients.toLocaleString('en-US')} distinct clients into one memory store`)
    const bounds = statsSchema.parse(undefined)
    const memory = await probe<MemoryFigure>(MEMORY_PROBE, [String(clients), String(bounds.max_clients), String(bounds.max_baselines)], ['--expose-gc', '--max-old-space-size=4096'])
    const cpus = os.cpus()
    process.stdout.write(
      [
        '## smarthost-guard per-client statistics benchmark',
        '',
        `${cpus.length} × ${cpus[0]?.model.trim() ?? 'CPU'}, Node ${process.version}, load average ${os.loadavg()[0]?.toFixed(2)}. ` +
          `smtp-source, ${sessions} sessions, 5120-byte bodies, ${messages} messages per run; three relay processes (dist/main.js) side by side: ` +
          'statistics off (`stats: { enabled: false }`), on with the memory backend (the default), on with the Redis backend (a local redis-server). ' +
          `Medians of ${rounds} interleaved round${rounds > 1 ? 's' : ''}; the ratios and the added CPU are medians of each round's comparison with its own stats-off run. Relay CPU per message from /proc.`,
        '',
        '| load | relay | msg/s | vs stats off | relay CPU µs/msg | added by the statistics |',
        '|---|---|--:|--:|--:|--:|',
        ...rows,
        '',
        `Cost in throughput (goal: at most ${GOAL * 100} %):`,
        '',
        ...verdicts.map((v) => `- ${v}`),
        '',
        '### The statistics\' own CPU per message',
        '',
        'The same messages (one customer, 5 KB, one recipient; a disconnect per message on new connections) as events straight into the statistics in one process, ' +
          'without SMTP, so without the noise of the other processes: the time the relay spends in src/stats per message. With Redis, a flush every 1,000 messages is included. ' +
          'The share is of the relay\'s CPU per message with statistics off, measured above.',
        '',
        '| load | backend | µs per message | share of the relay\'s CPU |',
        '|---|---|--:|--:|',
        ...ownRows,
        '',
        '### Statistics after distinct clients',
        '',
        'Each client seen once with a delivered message (an address key and a subnet key each), straight into a memory store; heap after full collections.',
        '',
        '| store | clients | keys held | heap held | µs per event |',
        '|---|--:|--:|--:|--:|',
        `| memory (max_clients ${memory.max_clients.toLocaleString('en-US')}, max_baselines ${memory.max_baselines.toLocaleString('en-US')}) | ${memory.clients.toLocaleString('en-US')} | ${memory.held.toLocaleString('en-US')} | ${memory.heap_mb.toFixed(1)} MB | ${memory.us_per_event.toFixed(1)} |`,
        '',
      ].join('\n'),
    )
    return 0
  } finally {
    await Promise.all(relays.map((r) => r.stop()))
    await redis.close()
    await sink.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

interface MemoryFigure {
  clients: number
  max_clients: number
  max_baselines: number
  held: number
  heap_mb: number
  us_per_event: number
}

interface ListenerFigure {
  backend: string
  load: string
  us: number
}

/** Runs a probe script to its end in a child (tsx, with `flags`) and parses the JSON it prints. */
async function probe<T>(script: string, args: string[], flags: string[] = []): Promise<T> {
  const child = spawnChild(process.execPath, [...flags, '--import', 'tsx', script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  const [code] = (await once(child, 'exit')) as [number | null]
  if (code !== 0) throw new Error(`${script} exited with ${code}`)
  return JSON.parse(out) as T
}

main().then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    process.stderr.write(`bench:stats: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exitCode = 1
  },
)
