/**
 * The wait before retry number `attempts` (1 = the first retry): doubling from `minMs` up to
 * `maxMs`, with up to a fifth of random spread so receivers that come back are not hit in step.
 *
 * @example backoffMs(3, 1000, 300_000) // 4000–4800
 */
export function backoffMs(attempts: number, minMs: number, maxMs: number, random = Math.random): number {
  const base = Math.min(maxMs, minMs * 2 ** Math.max(0, Math.min(attempts - 1, 30)))
  return Math.round(base * (1 + random() / 5))
}
