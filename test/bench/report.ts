import type { LatencyResult } from './latency-client.js'
import type { Load } from './postfix-tools.js'
import type { ProfileRow, ProfileSummary } from './profile.js'
import { median } from './stats.js'
import { int, ms } from './common.js'

/** A load run both directly against the sink and through the relay. */
export interface Scenario {
  label: string
  load: Load
}

/** Throughput of one scenario over the interleaved rounds. */
export interface ThroughputFigures {
  scenario: Scenario
  direct: number[]
  relay: number[]
  /** Relay CPU during its runs, as a fraction of one core. */
  relayCpu: number[]
}

/** Latency of one scenario at a fixed rate over the interleaved rounds. */
export interface LatencyFigures {
  scenario: Scenario
  rate: number
  direct: LatencyResult[]
  relay: LatencyResult[]
  relayCpu: number[]
}

/** The acceptance targets: the share of the direct rate kept, and the added p99. */
export const TARGETS = { minShare: 0.2, maxAddedP99Ms: 5 }

const pct = (n: number) => (Number.isFinite(n) ? `${(n * 100).toFixed(n < 0.1 ? 1 : 0)} %` : 'n/a')
const verdict = (ok: boolean) => (ok ? 'met' : '**missed**')

function table(head: string[], align: string[], body: string[][]): string {
  return [`| ${head.join(' | ')} |`, `|${align.join('|')}|`, ...body.map((r) => `| ${r.join(' | ')} |`)].join('\n')
}

/** Ratio of the medians of the relayed and the direct rates. */
export function share(f: ThroughputFigures): number {
  return median(f.relay) / median(f.direct)
}

/** Added latency: medians over the rounds of the relay's and the sink's percentile. */
export function added(f: LatencyFigures, key: 'p50Ms' | 'p99Ms'): number {
  return median(f.relay.map((r) => r[key])) - median(f.direct.map((r) => r[key]))
}

export function throughputTable(figures: ThroughputFigures[]): string {
  const body = figures.map((f) => [
    f.scenario.label,
    int(median(f.direct)),
    int(median(f.relay)),
    pct(share(f)),
    pct(median(f.relayCpu)),
    verdict(share(f) >= TARGETS.minShare),
  ])
  return table(
    ['load', 'direct msg/s', 'relay msg/s', 'relay / direct', 'relay CPU', `target ≥ ${TARGETS.minShare * 100} %`],
    ['---', '--:', '--:', '--:', '--:', '---'],
    body,
  )
}

/** What the CPU column means, printed under the throughput table. */
export const CPU_NOTE =
  'Relay CPU: CPU time of the relay process over the wall time of its runs (100 % = one core busy).'

export function latencyTable(figures: LatencyFigures[]): string {
  const m = (rs: LatencyResult[], key: 'p50Ms' | 'p99Ms') => median(rs.map((r) => r[key]))
  const body = figures.map((f) => [
    f.scenario.label,
    int(f.rate),
    ms(m(f.direct, 'p50Ms')),
    ms(m(f.direct, 'p99Ms')),
    ms(m(f.relay, 'p50Ms')),
    ms(m(f.relay, 'p99Ms')),
    ms(added(f, 'p50Ms')),
    ms(added(f, 'p99Ms')),
    verdict(added(f, 'p99Ms') < TARGETS.maxAddedP99Ms),
  ])
  return table(
    ['load', 'msg/s', 'direct p50', 'direct p99', 'relay p50', 'relay p99', 'added p50', 'added p99', `target < ${TARGETS.maxAddedP99Ms} ms`],
    ['---', '--:', '--:', '--:', '--:', '--:', '--:', '--:', '---'],
    body,
  )
}

/** Facts that say whether the latency figures can be trusted. */
export function latencyNotes(figures: LatencyFigures[]): string {
  const all = figures.flatMap((f) => [...f.direct, ...f.relay])
  const clientCpu = Math.max(...all.map((r) => r.clientCpu))
  const queued = all.reduce((n, r) => n + r.queued, 0)
  const messages = all.reduce((n, r) => n + r.messages, 0)
  const relayCpu = Math.max(...figures.flatMap((f) => f.relayCpu))
  return (
    `Latency client: at most ${pct(clientCpu)} of a core; ${int(messages)} messages recorded, ` +
    `${int(queued)} waited for a free session; relay CPU at most ${pct(relayCpu)} of a core.`
  )
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
