import type { Prng } from './prng.js'
import type { Tally } from './tally.js'

/** What a profile gets from the runner: the relay's ports, the clock and the stop signal. */
export interface DemoContext {
  ports: { smtp: number; submission: number }
  durationMs: number
  /** Milliseconds since the demo started. */
  clock(): number
  /** False once the demo's time is up (or it was interrupted): start no new message. */
  running(): boolean
  /** Waits `ms`, or less when the demo stops meanwhile. */
  sleep(ms: number): Promise<void>
}

/** Which of a profile's mail should get through: all, none, or some (the report's false positives). */
export type Legitimacy = 'legitimate' | 'abusive' | 'mixed'

/** One kind of customer the demo plays, on its own source addresses. */
export interface Profile {
  name: string
  /** One line: who this is and what it does. */
  description: string
  legitimacy: Legitimacy
  /** Source addresses it sends from (incidents for them are this profile's). */
  addresses: readonly string[]
  /** AUTH users and sender domains that are its own (incidents for them are this profile's). */
  users: readonly string[]
  domains: readonly string[]
  /** Its addresses that only ever send legitimate mail: an incident for one is a false positive. */
  innocent: readonly string[]
  tally: Tally
  run(ctx: DemoContext, rnd: Prng): Promise<void>
}

/** Waits until `atMs` since the demo's start. */
export async function until(ctx: DemoContext, atMs: number): Promise<void> {
  const wait = atMs - ctx.clock()
  if (wait > 0) await ctx.sleep(wait)
}
