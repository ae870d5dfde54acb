import { progress } from './common.js'
import { processCpuSeconds } from './cpu.js'
import { runSmtpSource } from './postfix-tools.js'
import type { Load } from './postfix-tools.js'

/** A load as a harness labels it in its progress lines and tables. */
export interface LabelledLoad {
  label: string
  load: Load
}

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

/**
 * Warms every relay up with each load (JIT, pooled next-hop connections, a Redis connection),
 * then runs the interleaved rounds: each load through every relay in turn, in the opposite
 * order every other round, so that drift on this shared machine spreads evenly. `record` gets
 * one load's runs of one round, by relay name in the order they ran.
 */
export async function interleavedRounds(
  o: { source: string; relays: ComparedRelay[]; loads: LabelledLoad[]; rounds: number; messages: number },
  record: (load: LabelledLoad, runs: Map<string, RelayRun>) => void,
): Promise<void> {
  for (const l of o.loads) for (const relay of o.relays) await runSmtpSource(o.source, relay.port, l.load, Math.min(o.messages, 500))
  for (let round = 1; round <= o.rounds; round++) {
    for (const l of o.loads) {
      const order = [...o.relays]
      if (round % 2 === 0) order.reverse()
      const runs = new Map<string, RelayRun>()
      for (const relay of order) {
        const cpu0 = processCpuSeconds(relay.pid) ?? NaN
        const run = await runSmtpSource(o.source, relay.port, l.load, o.messages)
        const cpuUs = (((processCpuSeconds(relay.pid) ?? NaN) - cpu0) / o.messages) * 1e6
        runs.set(relay.name, { rate: run.rate, cpuUs })
        progress(`round ${round} ${l.label} ${relay.name}: ${Math.round(run.rate)} msg/s, ${cpuUs.toFixed(0)} µs CPU/msg`)
      }
      record(l, runs)
    }
  }
}
