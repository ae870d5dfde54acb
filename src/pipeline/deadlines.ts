/** How often pending checks are looked at; a check's timeout fires up to this much late. */
export const SWEEP_MS = 20

interface Pending {
  readonly at: number
  readonly expire: () => void
}

const pending = new Set<Pending>()
let sweeper: NodeJS.Timeout | null = null

function sweep(): void {
  const now = performance.now()
  for (const p of pending) {
    if (p.at > now) continue
    pending.delete(p)
    p.expire()
  }
  if (!pending.size && sweeper) {
    clearInterval(sweeper)
    sweeper = null
  }
}

/**
 * Settles like `work`, or rejects with `onTimeout()` once `ms` have passed. One coarse interval
 * serves every pending check instead of a timer each: arming and clearing a timer per check
 * cost more than a memory-backed check itself, and check timeouts are hundreds of ms.
 */
export function withDeadline<T>(work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const entry: Pending = { at: performance.now() + ms, expire: () => reject(onTimeout()) }
    pending.add(entry)
    // Not unref'd: a pending check is work in progress, as its own timer was; it stops when none is.
    sweeper ??= setInterval(sweep, SWEEP_MS)
    work.finally(() => pending.delete(entry)).then(resolve, reject)
  })
}
