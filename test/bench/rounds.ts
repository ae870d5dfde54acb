import { progress } from './common.js'
import { processCpuSeconds } from './cpu.js'
import { runSmtpSource } from './postfix-tools.js'
import type { Scenario } from './report.js'


/** What one measured run through one relay gave: its rate and the relay's CPU per message. */
export interface RelayRun {
  rate: number
  cpuUs: number
}

/** A relay under comparison: its name (a table's row) and its process. */
export interface ComparedRelay {
  name: string
  port: number
  pid: number
}

/** How the rounds run: which relays, which loads, how many rounds of how many messages. */
export interface RoundsOptions {
  source: string
  relays: ComparedRelay[]
  loads: Scenario[]
  rounds: number
  messages: number
  /** CPU seconds of a relay so far (default: its process, every thread; treeCpuSeconds adds its children). */
  cpu?: (pid: number) => number | null | undefined
}

/**
 * Warms every relay up with each load (JIT, pooled next-hop connections, a Redis connection),
 * then runs the interleaved rounds: each load through every relay in turn, in the opposite
 * order every other round, so that drift on this shared machine spreads evenly. `record` gets
 * one load's runs of one round, by relay name in the order they ran.
 */
export async function interleavedRounds(o: RoundsOptions, record: (load: Scenario, runs: Map<string, RelayRun>) => void): Promise<void> {
  const cpu = o.cpu ?? processCpuSeconds
  for (const l of o.loads) for (const relay of o.relays) await runSmtpSource(o.source, relay.port, l.load, Math.min(o.messages, 500))
  for (let round = 1; round <= o.rounds; round++) {
    for (const l of o.loads) {
      const order = [...o.relays]
      if (round % 2 === 0) order.reverse()
      const runs = new Map<string, RelayRun>()
      for (const relay of order) {
        const cpu0 = cpu(relay.pid) ?? NaN
        const run = await runSmtpSource(o.source, relay.port, l.load, o.messages)
        const cpuUs = (((cpu(relay.pid) ?? NaN) - cpu0) / o.messages) * 1e6
        runs.set(relay.name, { rate: run.rate, cpuUs })
        progress(`round ${round} ${l.label} ${relay.name}: ${Math.round(run.rate)} msg/s, ${cpuUs.toFixed(0)} µs CPU/msg`)
      }
      record(l, runs)
    }
  }
}

/** A relay's runs under one load, each also against the baseline relay's run of the same round. */
export interface PairedFigures {
  rate: number[]
  cpuUs: number[]
  /** rate / the baseline's rate. */
  ratio: number[]
  /** CPU µs per message above the baseline's, and as a share of it. */
  addedUs: number[]
  addedShare: number[]
  /** cpuUs / the baseline's cpuUs. */
  cpuRatio: number[]
}

/**
 * The interleaved rounds, each run paired with the `baseline` relay's run of the same load in
 * the same round, seconds apart: load that other work puts on this shared machine cancels out
 * of the ratios, which a ratio of medians would not do. Returns the figures by load and relay.
 */
export async function pairedRounds(o: RoundsOptions & { baseline: string }): Promise<(load: string, relay: string) => PairedFigures> {
  const figures = new Map<string, PairedFigures>()
  const of = (load: string, relay: string): PairedFigures => {
    const key = `${load}\0${relay}`
    let f = figures.get(key)
    if (!f) figures.set(key, (f = { rate: [], cpuUs: [], ratio: [], addedUs: [], addedShare: [], cpuRatio: [] }))
    return f
  }
  await interleavedRounds(o, (l, runs) => {
    const base = runs.get(o.baseline)
    if (!base) throw new Error(`no baseline relay named ${o.baseline}`)
    for (const [name, r] of runs) {
      const f = of(l.label, name)
      f.rate.push(r.rate)
      f.cpuUs.push(r.cpuUs)
      f.ratio.push(r.rate / base.rate)
      f.addedUs.push(r.cpuUs - base.cpuUs)
      f.addedShare.push(r.cpuUs / base.cpuUs - 1)
      f.cpuRatio.push(r.cpuUs / base.cpuUs)
    }
  })
  return of
}
