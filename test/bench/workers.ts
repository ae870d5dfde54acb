import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { spawnChild } from '../helpers/children.js'
import { HARNESS_OPTIONS, positiveOption, progress } from './common.js'
import { treeCpuSeconds, treePeakRssMb } from './cpu.js'
import { findProgram, startSmtpSink } from './postfix-tools.js'
import { freePort } from './ports.js'
import { relayEntry, startRelayProcess } from './relay-process.js'
import type { RelayProcess } from './relay-process.js'
import { pairedRounds } from './rounds.js'
import type { Scenario } from './report.js'
import { median } from './stats.js'
import { LIMIT_CHECKS } from './every-check.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const IPC_COST = fileURLToPath(new URL('./ipc-cost.ts', import.meta.url))

const USAGE = `Usage: node --import tsx test/bench/workers.ts [options]

serve with one process against serve --workers N (the memory state in the primary), every limit
check on, in one run on this machine: msg/s, CPU per message of every process, peak RSS of
every process; then what one limit check costs over the IPC channel against in-process memory.
Prints Markdown on stdout, progress on stderr.

Options:
  --quick          smoke run: one round of a few hundred messages
  --rounds N       interleaved rounds; medians are reported (default 3)
  --messages N     messages per run (default 6000)
  --workers N      workers of the cluster row (default: the number of cores)
  --no-build       use the existing dist/ instead of compiling src/ first
`

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    strict: true,
    options: {
      ...HARNESS_OPTIONS,
      messages: { type: 'string' },
      workers: { type: 'string' },
    },
  })
  if (values.help) {
    process.stdout.write(USAGE)
    return 0
  }
  const rounds = positiveOption('rounds', values.rounds, values.quick ? 1 : 3)
  const messages = positiveOption('messages', values.messages, values.quick ? 300 : 6000)
  const workers = positiveOption('workers', values.workers, os.availableParallelism(), { integer: true })
  const [source, sinkProgram] = await Promise.all([findProgram('smtp-source'), findProgram('smtp-sink')])
  const main = await relayEntry(ROOT, !values['no-build'])
  const dir = await mkdtemp(join(os.tmpdir(), 'shg-bench-workers-'))
  const sink = await startSmtpSink(sinkProgram, await freePort())
  const variants = [
    { name: 'one process', args: [] as string[] },
    { name: `--workers ${workers}`, args: ['--workers', String(workers)] },
  ]
  const relays: RelayProcess[] = []
  try {
    for (const v of variants) {
      relays.push(
        await startRelayProcess({
          main,
          dir,
          sinkPort: sink.port,
          logLevel: 'info',
          poolSize: 20,
          serveArgs: v.args,
          outbound: (o) => (o.checks = LIMIT_CHECKS),
        }),
      )
    }
    const loads: Scenario[] = [
      { label: 'persistent sessions', load: { sessions: 20, size: 5120, recipients: 1, reuse: true } },
      { label: 'new connection per message', load: { sessions: 20, size: 5120, recipients: 1, reuse: false } },
    ]
    // CPU and memory of the whole process tree: the primary and its workers.
    const compared = relays.map((r, i) => ({ name: variants[i]!.name, port: r.port, pid: r.pid }))
    const figures = await pairedRounds({ source, relays: compared, loads, rounds, messages, cpu: treeCpuSeconds, baseline: 'one process' })
    const rss = relays.map((r) => treePeakRssMb(r.pid) ?? NaN)
    const rows = loads.flatMap((l) =>
      variants.map((v, i) => {
        const f = figures(l.label, v.name)
        return `| ${l.label} | ${v.name} | ${Math.round(median(f.rate)).toLocaleString('en-US')} | ${(median(f.ratio) * 100).toFixed(0)} % | ${(median(f.cpuUs) / 1000).toFixed(2)} | ${rss[i]!.toFixed(0)} |`
      }),
    )
    progress('IPC cost of one limit check (test/bench/ipc-cost.ts)')
    const child = spawnChild(process.execPath, ['--import', 'tsx', IPC_COST], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    await once(child, 'exit')
    const ipc = JSON.parse(out) as { local: { serialUs: number; batchedUs: number }; ipc: { serialUs: number; batchedUs: number; cpuUs: number }; primaryUsPerCall: number }
    process.stdout.write(`## serve: one process against --workers ${workers}

${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}, Node ${process.version}, load average ${os.loadavg()[0]?.toFixed(1)} at the end; smtp-source 20 sessions, 5 KB, 1 rcpt; every limit check on (memory backend); medians of ${rounds} interleaved rounds (vs one process: the median of each round's ratio).

| load | relay | msg/s | vs one process | CPU ms/msg (all processes) | peak RSS MB (all processes) |
|---|---|--:|--:|--:|--:|
${rows.join('\n')}

One limit check (Limit.consume) on the memory backend:

| where the counter is | one at a time, µs | 20 at once, µs per check |
|---|--:|--:|
| this process (one-process relay) | ${ipc.local.serialUs.toFixed(1)} | ${ipc.local.batchedUs.toFixed(1)} |
| the primary, over IPC (a worker) | ${ipc.ipc.serialUs.toFixed(1)} | ${ipc.ipc.batchedUs.toFixed(1)} |

CPU per check over IPC: worker ${ipc.ipc.cpuUs.toFixed(1)} µs, primary ${ipc.primaryUsPerCall.toFixed(1)} µs (both phases averaged).
`)
  } finally {
    for (const r of relays) await r.stop()
    await sink.stop()
    await rm(dir, { recursive: true, force: true })
  }
  return 0
}

main().then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`)
    process.exitCode = 1
  },
)
