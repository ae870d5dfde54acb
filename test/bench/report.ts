import type { LatencyResult } from './latency-client.js'
import type { Load } from './postfix-tools.js'
import type { ProfileRow, ProfileSummary } from './profile.js'
import { median } from './stats.js'
import { int, ms } from './common.js'

/** A load run against every target. */
export interface Scenario {
  label: string
  load: Load
}

/** Throughput of one target under one load over the interleaved rounds. */
export interface TargetFigures {
  scenario: Scenario
  /** direct, minimal, none, every, redis, cores */
  kind: string
  label: string
  rate: number[]
  /** CPU of the target's processes (threads and worker processes included) per message, ms. */
  cpuMsPerMessage: number[]
  /** Peak resident memory of the target's processes over the whole throughput phase, MB. */
  peakRssMb: number
}

/** Latency of one relay at a fixed rate over the interleaved rounds. */
export interface LatencyFigures {
  scenario: Scenario
  label: string
  rate: number
  direct: LatencyResult[]
  relay: LatencyResult[]
  /** Relay CPU during its runs, as a fraction of one core. */
  relayCpu: number[]
}

/**
 * The acceptance targets: with every check on, CPU per message, peak memory and added p99 at
 * half the peak rate; with no checks, the share of the minimal relay's rate; and the share of
 * the direct rate the relay was first held to.
 */
export const TARGETS = { minShare: 0.2, maxAddedP99Ms: 5, maxCpuMs: 1.2, maxRssMb: 200, minOfMinimal: 0.9 }

const pct = (n: number) => (Number.isFinite(n) ? `${(n * 100).toFixed(n < 0.1 ? 1 : 0)} %` : 'n/a')
const verdict = (ok: boolean) => (ok ? 'met' : '**missed**')

function table(head: string[], align: string[], body: string[][]): string {
  return [`| ${head.join(' | ')} |`, `|${align.join('|')}|`, ...body.map((r) => `| ${r.join(' | ')} |`)].join('\n')
}

/** Added latency: medians over the rounds of the relay's and the sink's percentile. */
export function added(f: LatencyFigures, key: 'p50Ms' | 'p99Ms'): number {
  return median(f.relay.map((r) => r[key])) - median(f.direct.map((r) => r[key]))
}

/**
 * `f`'s `figure` as a share of `kind`'s under the same load: the median of the rounds' ratios,
 * each round's two runs minutes apart at most, so that the shared machine's slow swings in
 * load cancel out of each ratio; NaN if `kind` did not run. `invert` turns a cost (CPU per
 * message) into its share of work per unit of it (messages per CPU second).
 */
function shareOf(all: TargetFigures[], f: TargetFigures, kind: string, figure: 'rate' | 'cpuMsPerMessage' = 'rate', invert = false): number {
  const other = all.find((o) => o.scenario === f.scenario && o.kind === kind)
  if (!other) return NaN
  const [mine, theirs] = [f[figure], other[figure]]
  const n = Math.min(mine.length, theirs.length)
  if (n === 0) return NaN
  const [top, bottom] = invert ? [theirs, mine] : [mine, theirs]
  return median(Array.from({ length: n }, (_, i) => (top[i] as number) / (bottom[i] as number)))
}

export function throughputTable(figures: TargetFigures[]): string {
  const body = figures.map((f) => [
    f.scenario.label,
    f.label,
    int(median(f.rate)),
    f.kind === 'direct' ? '—' : pct(shareOf(figures, f, 'direct')),
    f.kind === 'direct' || f.kind === 'minimal' ? '—' : pct(shareOf(figures, f, 'minimal')),
    f.kind === 'direct' ? '—' : ms(median(f.cpuMsPerMessage)),
    f.kind === 'direct' ? '—' : int(f.peakRssMb),
  ])
  return table(
    ['load', 'target', 'msg/s', 'vs direct', 'vs minimal relay', 'CPU ms/msg', 'peak RSS MB'],
    ['---', '---', '--:', '--:', '--:', '--:', '--:'],
    body,
  )
}

/** What the CPU and memory columns mean, printed under the throughput table. */
export const CPU_NOTE =
  'msg/s and CPU ms/msg: medians over the rounds; vs direct and vs minimal relay: the median of the rounds’ ratios (each round runs every target in turn). ' +
  'CPU ms/msg: CPU time (user + system) of the target’s process, its threads and any worker processes, over the messages of its runs. ' +
  'Peak RSS: the highest resident set (VmHWM) of those processes over the whole throughput phase. ' +
  'The minimal relay runs under tsx, which adds some 30 MB to its memory.'

export function latencyTable(figures: LatencyFigures[]): string {
  const m = (rs: LatencyResult[], key: 'p50Ms' | 'p99Ms') => median(rs.map((r) => r[key]))
  const body = figures.map((f) => [
    f.label,
    int(f.rate),
    ms(m(f.direct, 'p50Ms')),
    ms(m(f.direct, 'p99Ms')),
    ms(m(f.relay, 'p50Ms')),
    ms(m(f.relay, 'p99Ms')),
    ms(added(f, 'p50Ms')),
    ms(added(f, 'p99Ms')),
    verdict(added(f, 'p99Ms') < TARGETS.maxAddedP99Ms),
    pct(median(f.relayCpu)),
  ])
  return table(
    ['relay', 'msg/s', 'direct p50', 'direct p99', 'relay p50', 'relay p99', 'added p50', 'added p99', `target < ${TARGETS.maxAddedP99Ms} ms`, 'relay CPU'],
    ['---', '--:', '--:', '--:', '--:', '--:', '--:', '--:', '---', '--:'],
    body,
  )
}

/** Facts that say whether the latency figures can be trusted. */
export function latencyNotes(figures: LatencyFigures[]): string {
  const all = figures.flatMap((f) => [...f.direct, ...f.relay])
  const clientCpu = Math.max(...all.map((r) => r.clientCpu))
  const queued = all.reduce((n, r) => n + r.queued, 0)
  const messages = all.reduce((n, r) => n + r.messages, 0)
  return (
    `Latency client: at most ${pct(clientCpu)} of a core; ${int(messages)} messages recorded, ` +
    `${int(queued)} waited for a free session. ` +
    'Relay CPU: the median over the rounds of what the relay’s processes (every thread) used during its runs, as a share of one core (a relay near 100 % queues its messages, and its p99 is that queue).'
  )
}

/** One line per target, met or missed, from the figures of the persistent-session load. */
export function targetLines(tp: TargetFigures[], lat: LatencyFigures[]): string[] {
  const lines: string[] = []
  const persistent = (kind: string) => tp.find((f) => f.kind === kind && f.scenario.load.reuse)
  const every = persistent('every')
  if (every) {
    const cpu = median(every.cpuMsPerMessage)
    lines.push(`- Every check, CPU per message ≤ ${TARGETS.maxCpuMs} ms: ${ms(cpu)} ms, ${verdict(cpu <= TARGETS.maxCpuMs)}.`)
    lines.push(`- Every check, peak RSS ≤ ${TARGETS.maxRssMb} MB: ${int(every.peakRssMb)} MB, ${verdict(every.peakRssMb <= TARGETS.maxRssMb)}.`)
    const none = persistent('none')
    if (none) lines.push(`- Every check against no checks: ${pct(shareOf(tp, every, 'none'))} of the rate.`)
  }
  const everyLat = lat.find((f) => f.label.endsWith('every check'))
  if (everyLat) {
    const p99 = added(everyLat, 'p99Ms')
    lines.push(`- Every check, added p99 < ${TARGETS.maxAddedP99Ms} ms at half the peak rate: ${ms(p99)} ms, ${verdict(p99 < TARGETS.maxAddedP99Ms)}.`)
  }
  for (const none of tp.filter((f) => f.kind === 'none')) {
    const share = shareOf(tp, none, 'minimal')
    // Messages per CPU second: the share per core.
    const perCore = shareOf(tp, none, 'minimal', 'cpuMsPerMessage', true)
    if (Number.isFinite(share)) {
      // Without /proc there is no CPU figure: no verdict on it either.
      const perCoreLine = Number.isFinite(perCore) ? `${pct(perCore)} of its messages per CPU second, ${verdict(perCore >= TARGETS.minOfMinimal)}` : 'its CPU not measured'
      lines.push(
        `- No checks, ≥ ${TARGETS.minOfMinimal * 100} % of the minimal relay (${none.scenario.label}): ${pct(share)} of its rate, ${verdict(share >= TARGETS.minOfMinimal)}; ${perCoreLine}.`,
      )
    }
  }
  for (const f of tp.filter((t) => t.kind === 'every')) {
    const share = shareOf(tp, f, 'direct')
    lines.push(`- Every check, ≥ ${TARGETS.minShare * 100} % of the direct rate (${f.scenario.label}): ${pct(share)}, ${verdict(share >= TARGETS.minShare)}.`)
  }
  return lines
}

function profileTable(title: string, rowsOf: ProfileRow[]): string {
  return table([title, 'ms', 'share of busy'], ['---', '--:', '--:'], rowsOf.map((r) => [`\`${r.name}\``, int(r.ms), pct(r.share)]))
}

export function profileReport(p: ProfileSummary): string {
  return [
    `Busy ${int(p.busyMs)} ms of ${int(p.totalMs)} ms sampled.`,
    '',
    profileTable('self time by function', p.functions),
    '',
    profileTable('self time by owner', p.areas),
    '',
    profileTable('relay module on the stack (inclusive)', p.modules),
  ].join('\n')
}
