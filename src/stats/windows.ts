/** The windows statistics are read over, and their length. */
export const WINDOWS = { '1m': 60_000, '5m': 300_000, '15m': 900_000, '1h': 3_600_000, '24h': 86_400_000 } as const
export type WindowName = keyof typeof WINDOWS
export const WINDOW_NAMES = Object.keys(WINDOWS) as WindowName[]

export const MINUTE = 60_000
export const HOUR = 3_600_000
/** Minute buckets kept: enough for the 1 h window. */
export const MINUTES_KEPT = 60
/** Hour buckets kept: enough for the 24 h window. */
export const HOURS_KEPT = 24

/** Index of the bucket holding `at` (ms epoch) for buckets of `size` ms. */
export function bucketOf(at: number, size: number): number {
  return Math.floor(at / size)
}

/**
 * Which buckets make up `window` at `now`, as a sliding window: the current bucket, the full ones
 * before it, and the oldest one (`from`) weighted by the part of it still inside the window
 * (the estimate nginx's and Cloudflare's sliding-window limiters use). Minute buckets serve
 * windows up to an hour, hour buckets the day.
 */
export function windowBuckets(window: WindowName, now: number): { size: number; from: number; to: number; fromWeight: number } {
  const ms = WINDOWS[window]
  const size = ms > HOUR ? HOUR : MINUTE
  const to = bucketOf(now, size)
  return { size, from: to - ms / size, to, fromWeight: 1 - (now % size) / size }
}
