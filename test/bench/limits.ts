import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
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
import { LIMIT_CHECKS } from './every-check.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const MEMORY_PROBE = fileURLToPath(new URL('./limits-memory.ts', import.meta.url))

const USAGE = `Usage: npm run bench:limits -- [options]

Per-message cost of the limit checks, with the memory and the Redis backend, as a ratio to
the same relay without limits, in one run on this machine; then the memory the limiter state
holds after 1,000,000 distinct client addresses. Prints Markdown on stdout, progress on stderr.

Options:
  --quick          smoke run: one round of a few hundred messages, 100,000 addresses (CI)
  --rounds N       interleaved rounds over the three relays; medians are reported (default 5)
  --messages N     messages per run (default 6000)
  --sessions N     parallel SMTP sessions (default 20)
  --addresses N    distinct addresses for the memory figure (default 1000000)
  --no-build       use the existing dist/ instead of compiling src/ first
`

interface Variant {
  name: 'no limits' | 'memory' | 'redis'
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
      addresses: { type: 'string' },
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
  const addresses = positiveOption('addresses', values.addresses, quick ? 100_000 : 1_000_000)

  const [source, sinkProgram] = await Promise.all([findProgram('smtp-source'), findProgram('smtp-sink')])
  const main = await relayEntry(ROOT, !values['no-build'])
  const dir = await mkdtemp(join(os.tmpdir(), 'shg-bench-limits-'))
  const sink = await startSmtpSink(sinkProgram, await freePort())
  const redis = await startRedisServer()
  const variants: Variant[] = [
    { name: 'no limits', patch: () => undefined },
    { name: 'memory', patch: (p) => (p.instances.outbound.checks = LIMIT_CHECKS) },
    {
      name: 'redis',
      patch: (p) => {
        p.state = { backend: 'redis', redis: { url: redis.url, key_prefix: 'bench:' } }
        p.instances.outbound.checks = LIMIT_CHECKS
      },
    },
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
    const compared = relays.map((r, i) => ({ name: variants[i]!.name, port: r.port, pid: r.pid }))
    const figures = await pairedRounds({ source, relays: compared, loads, rounds, messages, baseline: 'no limits' })
    const rows = loads.flatMap((l) =>
      variants.map((v) => {
        const f = figures(l.label, v.name)
        const added = v.name === 'no limits' ? '—' : `${median(f.addedUs).toFixed(0)} µs (${(median(f.addedShare) * 100).toFixed(0)} %)`
        return `| ${l.label} | ${v.name} | ${Math.round(median(f.rate)).toLocaleString('en-US')} | ${(median(f.ratio) * 100).toFixed(0)} % | ${median(f.cpuUs).toFixed(0)} | ${added} |`
      }),
    )
    progress(`memory: ${addresses.toLocaleString('en-US')} distinct addresses through one limiter`)
    const memory = await memoryFigures(addresses)
    const cpus = os.cpus()
    process.stdout.write(
      [
        '## smarthost-guard limit checks benchmark',
        '',
        `${cpus.length} × ${cpus[0]?.model.trim() ?? 'CPU'}, Node ${process.version}, load average ${os.loadavg()[0]?.toFixed(2)}. ` +
          `smtp-source, ${sessions} sessions, 5120-byte bodies, ${messages} messages per run; three relay processes (dist/main.js) side by side: ` +
          `no limit checks, the ${LIMIT_CHECKS.length} limit checks on the memory backend, the same on a local redis-server. ` +
          `Medians of ${rounds} interleaved round${rounds > 1 ? 's' : ''}; the shares are the median of each round's ratio to the relay without limits. Relay CPU per message from /proc.`,
        '',
        '| load | relay | msg/s | vs no limits | relay CPU µs/msg | added by the checks |',
        '|---|---|--:|--:|--:|--:|',
        ...rows,
        '',
        '### Limiter state after distinct client addresses',
        '',
        '| store | addresses | entries kept | heap held |',
        '|---|--:|--:|--:|',
        ...memory.map((m) => `| ${m.store} | ${m.addresses.toLocaleString('en-US')} | ${m.entries.toLocaleString('en-US')} | ${m.mb.toFixed(1)} MB |`),
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
  store: string
  addresses: number
  entries: number
  mb: number
}

/** Runs limits-memory.ts in a child with --expose-gc, so the heap is measured after full collections. */
async function memoryFigures(addresses: number): Promise<MemoryFigure[]> {
  const child = spawnChild(process.execPath, ['--expose-gc', '--max-old-space-size=4096', '--import', 'tsx', MEMORY_PROBE, String(addresses)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  const [code] = (await once(child, 'exit')) as [number | null]
  if (code !== 0) throw new Error(`limits-memory.ts exited with ${code}`)
  return JSON.parse(out) as MemoryFigure[]
}

main().then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    process.stderr.write(`bench:limits: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exitCode = 1
  },
)
