import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { cpuMeter } from './cpu.js'
import { CONTENT_SCAN, HEADER_CHECKS } from './every-check.js'
import { findProgram, runSmtpSource, startSmtpSink } from './postfix-tools.js'
import type { Load } from './postfix-tools.js'
import { freePort } from './ports.js'
import { relayEntry, startRelayProcess } from './relay-process.js'
import type { RelayProcess } from './relay-process.js'
import { RULES_DIR, engineTimes, scanTimes, zipMessage } from './scan-time.js'
import type { EngineTime, ScanTime } from './scan-time.js'
import { median } from './stats.js'
import { HARNESS_OPTIONS, int, positiveOption, progress } from './common.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

const USAGE = `Usage: npm run bench:scan -- [options]

Relay throughput with content scanning (and with the header checks too) against the same
relay without it, in one run on this machine: Postfix's smtp-source drives the load (5 KB generated text, and a ~200 KB
message with a zip attachment sent with -F), smtp-sink takes the messages, both relays run
from dist/ in their own processes. Then the scan time per message and per MB through a
scanner thread, and the per-scan cost of the two YARA-X engines. Prints Markdown on stdout.

Options:
  --quick         smoke run: one round of a few hundred messages (CI)
  --rounds N      interleaved rounds over the three relays; medians are reported (default 3)
  --seconds S     aim of each throughput run (default 3)
  --sessions N    parallel SMTP sessions (default 20)
  --no-build      use the existing dist/ instead of compiling src/ first
`

/** The target: scanning costs at most a third of the relay's throughput on 5 KB messages. */
const MAX_COST = 1 / 3

interface Settings {
  rounds: number
  seconds: number
  sessions: number
  probe: number
  maxMessages: number
  build: boolean
  quick: boolean
}

function settings(argv: string[]): Settings | null {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      ...HARNESS_OPTIONS,
      seconds: { type: 'string' },
      sessions: { type: 'string', default: '20' },
    },
  })
  if (values.help) return null
  const quick = values.quick
  return {
    rounds: positiveOption('rounds', values.rounds, quick ? 1 : 3),
    seconds: positiveOption('seconds', values.seconds, quick ? 0.5 : 3, { integer: false }),
    sessions: positiveOption('sessions', values.sessions, 20),
    probe: quick ? 100 : 400,
    maxMessages: quick ? 300 : 100_000,
    build: !values['no-build'],
    quick,
  }
}

const pct = (n: number) => (Number.isFinite(n) ? `${(n * 100).toFixed(0)} %` : 'n/a')

/** The relays compared: without scanning, with the content scan, and with the header screening too (as the default policy runs). */
const KINDS = ['plain', 'scanning', 'screening'] as const
type Kind = (typeof KINDS)[number]

const OUTBOUND: Record<Kind, ((instance: Record<string, unknown>) => void) | undefined> = {
  plain: undefined,
  scanning: (instance) => {
    instance.scan = { rules: RULES_DIR }
    instance.checks = [CONTENT_SCAN]
  },
  screening: (instance) => {
    instance.scan = { rules: RULES_DIR }
    instance.checks = [...HEADER_CHECKS, CONTENT_SCAN]
  },
}

interface Row {
  label: string
  load: Load
  rate: Record<Kind, number[]>
  cpu: Record<Kind, number[]>
}

async function throughput(s: Settings, source: string, relays: Record<Kind, RelayProcess>, rows: Row[]): Promise<void> {
  const estimate = new Map<string, number>()
  for (const row of rows) {
    for (const kind of KINDS) {
      const run = await runSmtpSource(source, relays[kind].port, row.load, s.probe)
      estimate.set(`${row.label}/${kind}`, run.rate)
      progress(`probe ${row.label} ${kind}: ${int(run.rate)} msg/s`)
    }
  }
  for (let round = 1; round <= s.rounds; round++) {
    for (const row of rows) {
      for (const kind of KINDS) {
        const messages = Math.min(s.maxMessages, Math.max(s.probe, Math.round((estimate.get(`${row.label}/${kind}`) ?? 0) * s.seconds)))
        const cpu = cpuMeter(relays[kind].pid)
        const run = await runSmtpSource(source, relays[kind].port, row.load, messages)
        row.rate[kind].push(run.rate)
        row.cpu[kind].push(cpu() ?? NaN)
        progress(`round ${round} ${row.label} ${kind}: ${int(run.rate)} msg/s (${messages} messages)`)
      }
    }
  }
}

function report(s: Settings, rows: Row[], scans: ScanTime[], engines: EngineTime[]): string {
  const cpus = os.cpus()
  const body = rows.map((r) => {
    const [plain, scanning, screening] = KINDS.map((k) => median(r.rate[k])) as [number, number, number]
    const target = r.load.file ? '—' : 1 - scanning / plain <= MAX_COST ? 'met' : '**missed**'
    const cpu = KINDS.map((k) => pct(median(r.cpu[k]))).join(' / ')
    return `| ${r.label} | ${int(plain)} | ${int(scanning)} | ${pct(1 - scanning / plain)} | ${int(screening)} | ${pct(1 - screening / plain)} | ${cpu} | ${target} |`
  })
  const scanRows = scans.map((t) => `| ${t.label} | ${int(t.bytes)} | ${int(t.decoded)} | ${t.objects} | ${t.ms.toFixed(2)} | ${(t.ms / (t.bytes / 1e6)).toFixed(1)} |`)
  const engineRows = engines.map((e) => `| ${e.engine} | ${e.smallUs.toFixed(1)} µs | ${e.megabyteMs.toFixed(2)} ms |`)
  return [
    '## smarthost-guard scanning benchmark',
    '',
    `${cpus.length} × ${cpus[0]?.model.trim() ?? 'CPU'}, Node ${process.version}, load average ${os.loadavg()[0]?.toFixed(2)} at the start. ` +
      `smtp-source with ${s.sessions} sessions, 1 recipient; smtp-sink as next hop; both relays built from src/ and run as \`node dist/main.js serve\`. ` +
      `Medians of ${s.rounds} interleaved round${s.rounds > 1 ? 's' : ''} over the three relays.`,
    '',
    '### Relay throughput with scanning against without',
    '',
    '| load | plain msg/s | scanning msg/s | cost of scanning | scanning + header checks msg/s | cost | relay CPU (plain / scanning / + headers) | target: scanning costs ≤ 33 % |',
    '|---|--:|--:|--:|--:|--:|--:|---|',
    ...body,
    '',
    'Scanning: `data.content_scan` with the default rule pack. Header checks: the eight of the default policy on top. ' +
      'CPU: the relay process (scanner threads included) over the wall time of its runs; 100 % = one core.',
    '',
    '### Scan time through a scanner thread',
    '',
    '| message | bytes | decoded bytes | objects | ms per message | ms per MB |',
    '|---|--:|--:|--:|--:|--:|',
    ...scanRows,
    '',
    '### YARA-X engines, default rule pack, per scan in one thread',
    '',
    '| engine | 54-byte payload | 1 MB of text |',
    '|---|--:|--:|',
    ...engineRows,
  ].join('\n') + '\n'
}

async function main(): Promise<number> {
  const s = settings(process.argv.slice(2))
  if (!s) {
    process.stdout.write(USAGE)
    return 0
  }
  const [source, sinkProgram] = await Promise.all([findProgram('smtp-source'), findProgram('smtp-sink')])
  const main = await relayEntry(ROOT, s.build)
  const dir = await mkdtemp(join(os.tmpdir(), 'shg-bench-scan-'))
  const zipFile = join(dir, 'zip-200k.eml')
  // smtp-source -F appends CRLF to each line and dot-stuffs; the file has plain LF lines.
  await writeFile(zipFile, (await zipMessage()).replace(/\r\n/g, '\n'))
  const sink = await startSmtpSink(sinkProgram, await freePort())
  const relays: Partial<Record<Kind, RelayProcess>> = {}
  try {
    const common = { main, dir, sinkPort: sink.port, logLevel: 'info', poolSize: s.sessions }
    for (const kind of KINDS) {
      const outbound = OUTBOUND[kind]
      relays[kind] = await startRelayProcess(outbound ? { ...common, outbound } : common)
    }
    const load = (reuse: boolean, file?: string): Load => ({ sessions: s.sessions, size: 5120, recipients: 1, reuse, ...(file ? { file } : {}) })
    const rows: Row[] = [
      { label: '5 KB text, persistent sessions', load: load(true) },
      { label: '5 KB text, new connection per message', load: load(false) },
      { label: '~200 KB with a zip attachment, persistent sessions', load: load(true, zipFile) },
    ].map((r) => ({ ...r, rate: { plain: [], scanning: [], screening: [] }, cpu: { plain: [], scanning: [], screening: [] } }))
    await throughput(s, source, relays as Record<Kind, RelayProcess>, rows)
    progress('scan time per message through a scanner thread')
    const scans = await scanTimes(s.quick ? 1 : 3)
    progress('engines')
    const engines = await engineTimes()
    process.stdout.write(report(s, rows, scans, engines))
    return 0
  } finally {
    for (const kind of KINDS) await relays[kind]?.stop()
    await sink.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

main().then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    process.stderr.write(`bench:scan: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exitCode = 1
  },
)
