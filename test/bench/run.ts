import { execFile } from 'node:child_process'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import os from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs, promisify } from 'node:util'
import { spawnChild } from '../helpers/children.js'
import { startRedisServer } from '../helpers/redis.js'
import type { RedisServer } from '../helpers/redis.js'
import { treeCpuSeconds, treePeakRssMb } from './cpu.js'
import { startDnsProcess } from './dns/start.js'
import type { DnsProcess } from './dns/start.js'
import { everyCheck } from './every-check.js'
import { measureLatency } from './latency-client.js'
import type { LatencyResult } from './latency-client.js'
import { findProgram, runSmtpSource, startSmtpSink } from './postfix-tools.js'
import type { Load } from './postfix-tools.js'
import { freePort, smtpChild } from './ports.js'
import { summarizeProfile } from './profile.js'
import type { ProfileSummary } from './profile.js'
import { relayEntry, startRelayProcess } from './relay-process.js'
import type { BenchPolicy, RelayProcess } from './relay-process.js'
import { CPU_NOTE, latencyNotes, latencyTable, profileReport, targetLines, throughputTable } from './report.js'
import type { LatencyFigures, Scenario, TargetFigures } from './report.js'
import { median } from './stats.js'
import { HARNESS_OPTIONS, positiveOption, progress } from './common.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

const USAGE = `Usage: npm run bench -- [options]

Throughput, CPU per message, peak memory and added latency of the relay, in one run on this
machine, against client -> sink directly and against a minimal smtp-server + nodemailer relay
(the stack's ceiling): the relay with no checks, with every check on (memory backend), with
every check on the Redis backend, and on all cores when \`serve --workers\` exists. Postfix's
smtp-source drives the load, smtp-sink takes the messages; every relay runs in its own process.
Prints Markdown on stdout, progress on stderr. Exits non-zero on errors only; missed targets
are reported in the tables.

Options:
  --quick             smoke run: one round of a few hundred messages (CI)
  --rounds N          interleaved rounds over the targets; medians are reported (default 3)
  --seconds S         aim of each throughput run (default 3)
  --latency-seconds S length of each latency run (default 5)
  --sessions N        parallel SMTP sessions (default 20)
  --size BYTES        message body size (default 5120)
  --log-level LEVEL   the relay's log.level; its log goes to a file (default info)
  --relay-flags=FLAGS node flags for the relay processes (default none, as npm start; the relay
                      sets its own heap growing factor, src/heap.ts)
  --only LIST         targets to run, of minimal,none,every,redis,cores (default: all there are)
  --profile           afterwards, profile the relay with every check on at full speed
  --no-build          use the existing dist/ instead of compiling src/ first
  --keep              keep the temporary folder (policies, relay logs, profile)
`

/** What is measured besides the direct run. */
const KINDS = ['minimal', 'none', 'every', 'redis', 'cores'] as const
type Kind = (typeof KINDS)[number]

const LABELS: Record<Kind | 'direct', string> = {
  direct: 'direct (client → sink)',
  minimal: 'minimal smtp-server + nodemailer relay',
  none: 'relay, no checks',
  every: 'relay, every check',
  redis: 'relay, every check, Redis backend',
  cores: 'relay, every check, all cores',
}

interface Settings {
  rounds: number
  seconds: number
  latencySeconds: number
  warmupSeconds: number
  sessions: number
  size: number
  logLevel: string
  relayFlags: string[]
  only: Kind[]
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
      ...HARNESS_OPTIONS,
      seconds: { type: 'string' },
      'latency-seconds': { type: 'string' },
      sessions: { type: 'string', default: '20' },
      size: { type: 'string', default: '5120' },
      'log-level': { type: 'string', default: 'info' },
      // The flags `npm start`, the bin script and the container run the relay with.
      'relay-flags': { type: 'string', default: '' },
      only: { type: 'string', default: KINDS.join(',') },
      profile: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
    },
  })
  if (values.help) return null
  const num = (name: string, value: string | undefined, fallback: number) => positiveOption(name, value, fallback, { integer: false })
  const quick = values.quick
  const only = values.only.split(',').filter(Boolean)
  const unknown = only.filter((k) => !(KINDS as readonly string[]).includes(k))
  if (unknown.length) throw new Error(`--only: unknown target ${unknown.join(', ')} (known: ${KINDS.join(', ')})`)
  return {
    rounds: Math.round(num('rounds', values.rounds, quick ? 1 : 3)),
    seconds: num('seconds', values.seconds, quick ? 0.5 : 3),
    latencySeconds: num('latency-seconds', values['latency-seconds'], quick ? 1 : 5),
    warmupSeconds: quick ? 0.2 : 1,
    sessions: Math.round(num('sessions', values.sessions, 20)),
    size: Math.round(num('size', values.size, 5120)),
    logLevel: values['log-level'],
    relayFlags: values['relay-flags'].split(/\s+/).filter(Boolean),
    only: only as Kind[],
    probe: quick ? 100 : 500,
    maxMessages: quick ? 300 : 200_000,
    profile: values.profile,
    build: !values['no-build'],
    keep: values.keep,
  }
}

const rate = (n: number) => `${Math.round(n).toLocaleString('en-US')} msg/s`

/** The loads: a connection per message or per session, one recipient. */
function scenarios(s: Settings): Scenario[] {
  const load = (reuse: boolean): Scenario => ({
    label: `${reuse ? 'persistent sessions' : 'new connection per message'}, 1 rcpt`,
    load: { sessions: s.sessions, size: s.size, recipients: 1, reuse },
  })
  return [load(false), load(true)]
}

/** A server under load: a relay, the minimal relay, or the sink itself (direct). */
interface Target {
  kind: Kind | 'direct'
  port: number
  /** Null for the sink: its CPU and memory are not the relay's. */
  pid: number | null
  stop(): Promise<void>
}

interface Rig {
  settings: Settings
  source: string
  sinkPort: number
  /** The built relay entry point. */
  main: string
  dir: string
  dns: DnsProcess
  redis: RedisServer | null
  /** `serve --workers` exists in this build (multi-process mode). */
  workers: boolean
}

/** The minimal relay (minimal-relay.ts) in its own process. */
async function startMinimal(rig: Rig): Promise<Target> {
  const port = await freePort()
  const script = fileURLToPath(new URL('./minimal-relay.ts', import.meta.url))
  const child = spawnChild(process.execPath, [...rig.settings.relayFlags, '--import', 'tsx', script, String(port), String(rig.sinkPort), String(rig.settings.sessions)], {
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  return { kind: 'minimal', ...(await smtpChild(child, port, 15_000, 'the minimal relay')) }
}

/** The policy change of each relay kind. */
function patchFor(rig: Rig, kind: Kind): ((p: BenchPolicy) => void) | undefined {
  if (kind === 'none' || kind === 'minimal') return undefined
  return (p) => {
    everyCheck(p, rig.dns.port)
    if (kind === 'redis' && rig.redis) p.state = { backend: 'redis', redis: { url: rig.redis.url, key_prefix: 'bench:' } }
  }
}

async function startTarget(rig: Rig, kind: Kind, opts: { cpuProfile?: string } = {}): Promise<Target> {
  if (kind === 'minimal') return startMinimal(rig)
  const s = rig.settings
  const relay: RelayProcess = await startRelayProcess({
    main: rig.main,
    dir: opts.cpuProfile ?? rig.dir,
    sinkPort: rig.sinkPort,
    logLevel: s.logLevel,
    poolSize: s.sessions,
    nodeFlags: s.relayFlags,
    cpuProfile: opts.cpuProfile !== undefined,
    patch: patchFor(rig, kind),
    serveArgs: kind === 'cores' ? ['--workers', String(os.cpus().length)] : [],
  })
  return { kind, port: relay.port, pid: relay.pid, stop: () => relay.stop() }
}

/** Runs `work` with fresh targets of these kinds, stopped afterwards. */
async function withTargets<T>(rig: Rig, kinds: Kind[], work: (targets: Target[]) => Promise<T>): Promise<T> {
  const targets: Target[] = []
  try {
    for (const kind of kinds) targets.push(await startTarget(rig, kind))
    return await work(targets)
  } finally {
    await Promise.all(targets.map((t) => t.stop()))
  }
}

async function throughput(rig: Rig, list: Scenario[], targets: Target[]): Promise<TargetFigures[]> {
  const { settings: s, source } = rig
  const all: Target[] = [{ kind: 'direct', port: rig.sinkPort, pid: null, stop: () => Promise.resolve() }, ...targets]
  const figures: TargetFigures[] = list.flatMap((scenario) =>
    all.map((t) => ({ scenario, kind: t.kind, label: LABELS[t.kind], rate: [], cpuMsPerMessage: [], peakRssMb: NaN })),
  )
  const figure = (sc: Scenario, t: Target) => figures.find((f) => f.scenario === sc && f.kind === t.kind) as TargetFigures
  // The probes warm every target up (JIT, pooled connections) and size the measured runs.
  const estimate = new Map<TargetFigures, number>()
  for (const sc of list) {
    for (const t of all) {
      const run = await runSmtpSource(source, t.port, sc.load, s.probe)
      estimate.set(figure(sc, t), run.rate)
      progress(`probe  ${sc.label} ${t.kind}: ${rate(run.rate)}`)
    }
  }
  for (let round = 1; round <= s.rounds; round++) {
    for (const sc of list) {
      // The opposite order every other round, so that drift on this shared machine spreads evenly.
      for (const t of round % 2 ? all : [...all].reverse()) {
        const f = figure(sc, t)
        const messages = Math.min(s.maxMessages, Math.max(s.probe, Math.round((estimate.get(f) ?? 0) * s.seconds)))
        const cpu0 = t.pid === null ? null : treeCpuSeconds(t.pid)
        const run = await runSmtpSource(source, t.port, sc.load, messages)
        const cpu1 = t.pid === null ? null : treeCpuSeconds(t.pid)
        f.rate.push(run.rate)
        if (cpu0 !== null && cpu1 !== null) f.cpuMsPerMessage.push(((cpu1 - cpu0) * 1000) / messages)
        progress(`round ${round} ${sc.label} ${t.kind}: ${rate(run.rate)} (${messages} messages)`)
      }
    }
  }
  // Peak memory over all the loads: the targets live through the whole phase.
  for (const t of targets) {
    const peak = t.pid === null ? null : treePeakRssMb(t.pid)
    for (const f of figures) if (f.kind === t.kind) f.peakRssMb = peak ?? NaN
  }
  return figures
}

/** Latency of a relay kind at half its peak rate over persistent sessions, against the sink at the same rate. */
async function latency(rig: Rig, kind: Kind, peak: TargetFigures): Promise<LatencyFigures> {
  const { settings: s, sinkPort } = rig
  const f: LatencyFigures = { scenario: peak.scenario, label: LABELS[kind], rate: median(peak.rate) / 2, direct: [], relay: [], relayCpu: [] }
  const paced = (port: number, seconds: number) =>
    measureLatency({ port, sessions: s.sessions, rate: f.rate, seconds, warmupSeconds: s.warmupSeconds, recipients: 1, size: s.size })
  // A fresh relay: one that has just run at saturation keeps V8 in a GC pattern (frequent
  // mark-compacts) that inflates its tail latency for minutes.
  await withTargets(rig, [kind], async ([target]) => {
    if (!target?.pid) return
    await paced(target.port, s.warmupSeconds * 3)
    for (let round = 1; round <= s.rounds; round++) {
      const show = (name: string, r: LatencyResult) =>
        progress(`round ${round} latency ${kind} ${name} at ${rate(f.rate)}: p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms, client CPU ${Math.round(r.clientCpu * 100)} %`)
      const direct = await paced(sinkPort, s.latencySeconds)
      f.direct.push(direct)
      show('direct', direct)
      const cpu0 = treeCpuSeconds(target.pid) ?? NaN
      const t0 = process.hrtime.bigint()
      const relayed = await paced(target.port, s.latencySeconds)
      f.relayCpu.push(((treeCpuSeconds(target.pid) ?? NaN) - cpu0) / (Number(process.hrtime.bigint() - t0) / 1e9))
      f.relay.push(relayed)
      show('relay', relayed)
    }
  })
  return f
}

/** Runs the persistent load at full speed through a relay with every check under --cpu-prof and summarizes the profile. */
async function profile(rig: Rig, load: Load, peak: number): Promise<ProfileSummary> {
  const { settings: s, source } = rig
  const profDir = await mkdtemp(join(rig.dir, 'profile-'))
  const target = await startTarget(rig, 'every', { cpuProfile: profDir })
  try {
    await runSmtpSource(source, target.port, load, s.probe)
    const run = await runSmtpSource(source, target.port, load, Math.max(s.probe, Math.round(peak * s.seconds * 2)))
    progress(`profile: ${rate(run.rate)} under --cpu-prof`)
  } finally {
    await target.stop()
  }
  const file = (await readdir(profDir)).find((f) => f.endsWith('.cpuprofile'))
  if (!file) throw new Error(`the relay wrote no .cpuprofile into ${profDir}`)
  progress(`profile: ${join(profDir, file)}`)
  return summarizeProfile(join(profDir, file))
}

function report(s: Settings, rig: Rig, tp: TargetFigures[], lat: LatencyFigures[], prof: ProfileSummary | null): string {
  const cpus = os.cpus()
  const lines = [
    '## smarthost-guard benchmark',
    '',
    `${cpus.length} × ${cpus[0]?.model.trim() ?? 'CPU'}, Node ${process.version}, load average ${os.loadavg()[0]?.toFixed(2)} at the end. ` +
      `Client: Postfix smtp-source, ${s.sessions} sessions, ${s.size}-byte bodies; sink: smtp-sink; ` +
      `relays: ${['node', ...s.relayFlags].join(' ')} dist/main.js, each in its own process, log level ${s.logLevel} to a file; ` +
      `DNS: the bench's DNS server (dns2) in its own process. Medians of ${s.rounds} interleaved round${s.rounds > 1 ? 's' : ''}.` +
      (rig.workers ? '' : ' `serve --workers` is not in this build: no all-cores row.'),
    '',
    '### Throughput, CPU per message, peak memory',
    '',
    throughputTable(tp),
    '',
    CPU_NOTE,
    '',
    '### Added latency, MAIL FROM to the final 250 (ms), at half the relay’s peak rate (persistent sessions)',
    '',
    latencyTable(lat),
    '',
    latencyNotes(lat),
    '',
    '### Targets',
    '',
    ...targetLines(tp, lat),
  ]
  if (prof) lines.push('', '### CPU profile of the relay with every check (persistent sessions, full speed)', '', profileReport(prof))
  return lines.join('\n') + '\n'
}

/** Whether this build's `serve` has --workers (the multi-process mode). */
async function hasWorkers(main: string): Promise<boolean> {
  const { stdout } = await promisify(execFile)(process.execPath, [main, 'serve', '--help']).catch(() => ({ stdout: '' }))
  return stdout.includes('--workers')
}

async function main(): Promise<number> {
  const s = settings(process.argv.slice(2))
  if (!s) {
    process.stdout.write(USAGE)
    return 0
  }
  const [source, sinkProgram] = await Promise.all([findProgram('smtp-source'), findProgram('smtp-sink')])
  const entry = await relayEntry(ROOT, s.build)
  const workers = await hasWorkers(entry)
  const kinds = s.only.filter((k) => k !== 'cores' || workers)
  const dir = await mkdtemp(join(os.tmpdir(), 'shg-bench-'))
  const cleanup: (() => Promise<void>)[] = [() => (s.keep ? Promise.resolve(progress(`kept ${dir}`)) : rm(dir, { recursive: true, force: true }))]
  try {
    const sink = await startSmtpSink(sinkProgram, await freePort())
    cleanup.unshift(() => sink.stop())
    const dns = await startDnsProcess()
    cleanup.unshift(() => dns.stop())
    const redis = kinds.includes('redis') ? await startRedisServer() : null
    if (redis) cleanup.unshift(() => redis.close())
    const rig: Rig = { settings: s, source, sinkPort: sink.port, main: entry, dir, dns, redis, workers }
    const tp = await withTargets(rig, kinds, (targets) => throughput(rig, scenarios(s), targets))
    const lat: LatencyFigures[] = []
    for (const kind of (['none', 'every'] as const).filter((k) => kinds.includes(k))) {
      const peak = tp.find((f) => f.kind === kind && f.scenario.load.reuse)
      if (peak) lat.push(await latency(rig, kind, peak))
    }
    const peak = tp.find((f) => f.kind === 'every' && f.scenario.load.reuse)
    const prof = s.profile && peak ? await profile(rig, peak.scenario.load, median(peak.rate)) : null
    process.stdout.write(report(s, rig, tp, lat, prof))
    return 0
  } finally {
    for (const step of cleanup) await step()
  }
}

main().then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exitCode = 1
  },
)
