import { mkdtemp, readdir, rm } from 'node:fs/promises'
import os from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { cpuMeter } from './cpu.js'
import { measureLatency } from './latency-client.js'
import type { LatencyResult } from './latency-client.js'
import { findProgram, runSmtpSource, startSmtpSink } from './postfix-tools.js'
import type { Load } from './postfix-tools.js'
import { freePort } from './ports.js'
import { summarizeProfile } from './profile.js'
import type { ProfileSummary } from './profile.js'
import { buildRelay, startRelayProcess } from './relay-process.js'
import type { RelayProcess } from './relay-process.js'
import { CPU_NOTE, TARGETS, added, latencyNotes, latencyTable, profileReport, share, throughputTable } from './report.js'
import type { LatencyFigures, Scenario, ThroughputFigures } from './report.js'
import { median } from './stats.js'
import { positiveOption, progress } from './common.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

const USAGE = `Usage: npm run bench -- [options]

Throughput and added latency of client -> relay -> sink against client -> sink, in one run
on this machine: Postfix's smtp-source drives the load, smtp-sink takes the messages, the
relay runs from dist/ in its own process. Prints Markdown on stdout, progress on stderr.
Exits non-zero on errors only; missed targets are reported in the tables.

Options:
  --quick             smoke run: one round of a few hundred messages (CI)
  --rounds N          interleaved direct/relay rounds; medians are reported (default 3)
  --seconds S         aim of each throughput run (default 3)
  --latency-seconds S length of each latency run (default 5)
  --sessions N        parallel SMTP sessions (default 20)
  --size BYTES        message body size (default 5120)
  --log-level LEVEL   the relay's log.level; its log goes to a file (default info)
  --relay-flags=FLAGS node flags for the relay process, e.g. --relay-flags=--max-semi-space-size=64
  --profile           afterwards, profile a relay under the persistent 1-recipient load
  --no-build          use the existing dist/ instead of compiling src/ first
  --keep              keep the temporary folder (policy, relay log, profile)
`

interface Settings {
  rounds: number
  seconds: number
  latencySeconds: number
  warmupSeconds: number
  sessions: number
  size: number
  logLevel: string
  relayFlags: string[]
  /** Messages of the first run of each kind, which also warms the relay up. */
  probe: number
  maxMessages: number
  profile: boolean
  build: boolean
  keep: boolean
}

function settings(argv: string[]): Settings | null {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      seconds: { type: 'string' },
      'latency-seconds': { type: 'string' },
      sessions: { type: 'string', default: '20' },
      size: { type: 'string', default: '5120' },
      'log-level': { type: 'string', default: 'info' },
      // The flags `npm start`, the bin script and the container run the relay with.
      'relay-flags': { type: 'string', default: '--max-semi-space-size=64' },
      profile: { type: 'boolean', default: false },
      'no-build': { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) return null
  const num = (name: string, value: string | undefined, fallback: number) => positiveOption(name, value, fallback, { integer: false })
  const quick = values.quick
  return {
    rounds: Math.round(num('rounds', values.rounds, quick ? 1 : 3)),
    seconds: num('seconds', values.seconds, quick ? 0.5 : 3),
    latencySeconds: num('latency-seconds', values['latency-seconds'], quick ? 1 : 5),
    warmupSeconds: quick ? 0.2 : 1,
    sessions: Math.round(num('sessions', values.sessions, 20)),
    size: Math.round(num('size', values.size, 5120)),
    logLevel: values['log-level'],
    relayFlags: values['relay-flags'].split(/\s+/).filter(Boolean),
    probe: quick ? 100 : 500,
    maxMessages: quick ? 300 : 200_000,
    profile: values.profile,
    build: !values['no-build'],
    keep: values.keep,
  }
}

const rate = (n: number) => `${Math.round(n).toLocaleString('en-US')} msg/s`

/** The same four loads run direct and relayed: a connection per message or per session, 1 or 10 recipients. */
function scenarios(s: Settings): Scenario[] {
  const load = (reuse: boolean, recipients: number): Scenario => ({
    label: `${reuse ? 'persistent sessions' : 'new connection per message'}, ${recipients} rcpt`,
    load: { sessions: s.sessions, size: s.size, recipients, reuse },
  })
  return [load(false, 1), load(false, 10), load(true, 1), load(true, 10)]
}

interface Rig {
  settings: Settings
  source: string
  sinkPort: number
  /** The built relay entry point. */
  main: string
  dir: string
}

/**
 * Runs `work` against a relay process of its own, stopped afterwards. Each phase gets a fresh
 * relay: one that has just run at saturation keeps V8 in a GC pattern (frequent
 * mark-compacts) that inflates its tail latency for minutes, which would blur the phases.
 */
async function withRelay<T>(rig: Rig, work: (relay: RelayProcess) => Promise<T>, cpuProfileDir?: string): Promise<T> {
  const s = rig.settings
  const relay = await startRelayProcess({
    main: rig.main,
    dir: cpuProfileDir ?? rig.dir,
    sinkPort: rig.sinkPort,
    logLevel: s.logLevel,
    poolSize: s.sessions,
    nodeFlags: s.relayFlags,
    cpuProfile: cpuProfileDir !== undefined,
  })
  try {
    return await work(relay)
  } finally {
    await relay.stop()
  }
}

async function throughput(rig: Rig, relay: RelayProcess, list: Scenario[]): Promise<ThroughputFigures[]> {
  const { settings: s, source, sinkPort } = rig
  const targets = [
    { name: 'direct', port: sinkPort },
    { name: 'relay', port: relay.port },
  ] as const
  // The probes warm the relay up (JIT, pooled connections) and size the measured runs.
  const estimate = new Map<string, number>()
  for (const sc of list) {
    for (const t of targets) {
      const run = await runSmtpSource(source, t.port, sc.load, s.probe)
      estimate.set(`${sc.label}/${t.name}`, run.rate)
      progress(`probe  ${sc.label} ${t.name}: ${rate(run.rate)}`)
    }
  }
  const figures = list.map((scenario): ThroughputFigures => ({ scenario, direct: [], relay: [], relayCpu: [] }))
  for (let round = 1; round <= s.rounds; round++) {
    for (const f of figures) {
      for (const t of targets) {
        const wanted = Math.round((estimate.get(`${f.scenario.label}/${t.name}`) ?? 0) * s.seconds)
        const messages = Math.min(s.maxMessages, Math.max(s.probe, wanted))
        const cpu = cpuMeter(relay.pid)
        const run = await runSmtpSource(source, t.port, f.scenario.load, messages)
        f[t.name].push(run.rate)
        if (t.name === 'relay') f.relayCpu.push(cpu() ?? NaN)
        progress(`round ${round} ${f.scenario.label} ${t.name}: ${rate(run.rate)} (${messages} messages)`)
      }
    }
  }
  return figures
}

/** Latency at half the relay's peak rate of the same load, over persistent sessions. */
async function latency(rig: Rig, relay: RelayProcess, peaks: ThroughputFigures[]): Promise<LatencyFigures[]> {
  const { settings: s, sinkPort } = rig
  const figures = peaks
    .filter((p) => p.scenario.load.reuse)
    .map((p): LatencyFigures => ({ scenario: p.scenario, rate: median(p.relay) / 2, direct: [], relay: [], relayCpu: [] }))
  const paced = (f: LatencyFigures, port: number, seconds: number) =>
    measureLatency({
      port,
      sessions: s.sessions,
      rate: f.rate,
      seconds,
      warmupSeconds: s.warmupSeconds,
      recipients: f.scenario.load.recipients,
      size: s.size,
    })
  for (const f of figures) await paced(f, relay.port, s.warmupSeconds * 3)
  for (let round = 1; round <= s.rounds; round++) {
    for (const f of figures) {
      const show = (name: string, r: LatencyResult) =>
        progress(
          `round ${round} latency ${f.scenario.label} ${name} at ${rate(f.rate)}: ` +
            `p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms, client CPU ${Math.round(r.clientCpu * 100)} %`,
        )
      const direct = await paced(f, sinkPort, s.latencySeconds)
      f.direct.push(direct)
      show('direct', direct)
      const cpu = cpuMeter(relay.pid)
      const relayed = await paced(f, relay.port, s.latencySeconds)
      f.relayCpu.push(cpu() ?? NaN)
      f.relay.push(relayed)
      show('relay', relayed)
    }
  }
  return figures
}

/** Runs the load at full speed through a relay under --cpu-prof and summarizes the profile. */
async function profile(rig: Rig, load: Load, peak: number): Promise<ProfileSummary> {
  const { settings: s, source } = rig
  const profDir = await mkdtemp(join(rig.dir, 'profile-'))
  await withRelay(
    rig,
    async (relay) => {
      await runSmtpSource(source, relay.port, load, s.probe)
      const run = await runSmtpSource(source, relay.port, load, Math.max(s.probe, Math.round(peak * s.seconds * 2)))
      progress(`profile: ${rate(run.rate)} under --cpu-prof`)
    },
    profDir,
  )
  const file = (await readdir(profDir)).find((f) => f.endsWith('.cpuprofile'))
  if (!file) throw new Error(`the relay wrote no .cpuprofile into ${profDir}`)
  progress(`profile: ${join(profDir, file)}`)
  return summarizeProfile(join(profDir, file))
}

function report(s: Settings, tp: ThroughputFigures[], lat: LatencyFigures[], prof: ProfileSummary | null): string {
  const cpus = os.cpus()
  const tpMet = tp.every((f) => share(f) >= TARGETS.minShare)
  const latMet = lat.every((f) => added(f, 'p99Ms') < TARGETS.maxAddedP99Ms)
  const lines = [
    '## smarthost-guard benchmark',
    '',
    `${cpus.length} × ${cpus[0]?.model.trim() ?? 'CPU'}, Node ${process.version}, load average ${os.loadavg()[0]?.toFixed(2)} at the start. ` +
      `Client: Postfix smtp-source, ${s.sessions} sessions, ${s.size}-byte bodies; sink: smtp-sink; ` +
      `relay: ${['node', ...s.relayFlags].join(' ')} dist/main.js in its own process, log level ${s.logLevel} to a file. ` +
      `Medians of ${s.rounds} interleaved direct/relay round${s.rounds > 1 ? 's' : ''}.`,
    '',
    '### Throughput',
    '',
    throughputTable(tp),
    '',
    CPU_NOTE,
    '',
    '### Added latency, MAIL FROM to the final 250 (ms), at half the relay’s peak rate',
    '',
    latencyTable(lat),
    '',
    latencyNotes(lat),
    '',
    `Targets: relay ≥ ${TARGETS.minShare * 100} % of the direct rate: ${tpMet ? 'met' : 'missed'}; ` +
      `added p99 < ${TARGETS.maxAddedP99Ms} ms at half the peak rate: ${latMet ? 'met' : 'missed'}.`,
  ]
  if (prof) lines.push('', '### Relay CPU profile (persistent sessions, 1 rcpt, full speed)', '', profileReport(prof))
  return lines.join('\n') + '\n'
}

async function main(): Promise<number> {
  const s = settings(process.argv.slice(2))
  if (!s) {
    process.stdout.write(USAGE)
    return 0
  }
  const [source, sinkProgram] = await Promise.all([findProgram('smtp-source'), findProgram('smtp-sink')])
  if (s.build) progress('building the relay (tsconfig.build.json)')
  const entry = s.build ? await buildRelay(ROOT) : join(ROOT, 'dist', 'main.js')
  const dir = await mkdtemp(join(os.tmpdir(), 'shg-bench-'))
  const sink = await startSmtpSink(sinkProgram, await freePort()).catch(async (err: unknown) => {
    await rm(dir, { recursive: true, force: true })
    throw err
  })
  try {
    const rig: Rig = { settings: s, source, sinkPort: sink.port, main: entry, dir }
    const tp = await withRelay(rig, (relay) => throughput(rig, relay, scenarios(s)))
    const lat = await withRelay(rig, (relay) => latency(rig, relay, tp))
    const peak = tp.find((f) => f.scenario.load.reuse && f.scenario.load.recipients === 1)
    const prof = s.profile && peak ? await profile(rig, peak.scenario.load, median(peak.relay)) : null
    process.stdout.write(report(s, tp, lat, prof))
    return 0
  } finally {
    await sink.stop()
    if (s.keep) progress(`kept ${dir}`)
    else await rm(dir, { recursive: true, force: true })
  }
}

main().then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exitCode = 1
  },
)
