import { hostileSession, seededRandom, SESSION_KINDS } from './hostile-sessions.js'
import type { HostileTarget, SessionKind } from './hostile-sessions.js'

export interface FuzzOptions {
  target: HostileTarget
  /** Session i uses the PRNG seeded with seed + i, so one session can be replayed alone. */
  seed: number
  sessions: number
  /** Sessions open at once. */
  concurrency: number
  /** Sends one control message from a customer; rejects if it was not relayed. */
  sendControl: (n: number) => Promise<void>
  /** A control message after every this many sessions. */
  controlEvery: number
  /** The first session index (a soak continues where its last round ended). */
  first?: number
}

export interface FuzzResult {
  sessions: number
  kinds: Record<SessionKind, number>
  controls: number
  /** Control messages that were not relayed, with the session index they followed. */
  controlFailures: { after: number; error: string }[]
  /** Sessions that did not end within SESSION_DEADLINE_MS (the relay kept them hanging). */
  stuck: number[]
  ms: number
}

/** Every hostile session ends on its own within seconds; one still open after this is a finding. */
const SESSION_DEADLINE_MS = 30_000

/** Runs `sessions` seeded hostile sessions, `concurrency` at a time, with control messages in between. */
export async function runFuzz(opts: FuzzOptions): Promise<FuzzResult> {
  const started = Date.now()
  const first = opts.first ?? 0
  const kinds = Object.fromEntries(SESSION_KINDS.map((k) => [k, 0])) as Record<SessionKind, number>
  const controls: Promise<void>[] = []
  const controlFailures: FuzzResult['controlFailures'] = []
  const stuck: number[] = []
  let next = first
  const end = first + opts.sessions
  const worker = async () => {
    while (next < end) {
      const i = next++
      const rand = seededRandom(opts.seed + i)
      const kind = SESSION_KINDS[Math.floor(rand() * SESSION_KINDS.length)] as SessionKind
      kinds[kind]++
      if ((i - first) % opts.controlEvery === 0) {
        const n = controls.length
        controls.push(opts.sendControl(n).catch((err: unknown) => void controlFailures.push({ after: i, error: String(err) })))
      }
      let timer: NodeJS.Timeout | undefined
      const deadline = new Promise<'stuck'>((resolve) => (timer = setTimeout(() => resolve('stuck'), SESSION_DEADLINE_MS)))
      const outcome = await Promise.race([hostileSession(opts.target, rand, kind), deadline])
      clearTimeout(timer)
      if (outcome === 'stuck') stuck.push(i)
    }
  }
  await Promise.all(Array.from({ length: opts.concurrency }, worker))
  await Promise.all(controls)
  return { sessions: opts.sessions, kinds, controls: controls.length, controlFailures, stuck, ms: Date.now() - started }
}
