import { z } from 'zod'
import { classEntry } from '../classes/per-class.js'
import { className } from '../classes/schema.js'
import { duration } from '../config/units.js'

/** A fixed-window rate: `points` per `windowMs`, with an optional extra allowance over a longer window. */
export interface RateSpec {
  readonly points: number
  readonly windowMs: number
  /** Extra points once `points` are used up, refilled every `windowMs` of its own (BurstyRateLimiter). */
  readonly burst?: { readonly points: number; readonly windowMs: number } | undefined
}

const SHORTHAND = /^\s*(\d+)\s*\/\s*(\S+)\s*$/

/**
 * A limiter window: a duration of whole seconds, at least 1s, parsed to ms. The Redis limiter
 * keeps TTLs in seconds, and a 0 s TTL would never expire.
 */
export const windowMs = () =>
  duration().refine((ms) => ms >= 1000 && ms % 1000 === 0, {
    error: 'a window is a whole number of seconds, at least 1s',
  })

const points = () => z.number().int().positive().describe('Points (connections, messages, recipients…) per window')

const rateObject = z.strictObject({
  points: points(),
  window: windowMs().describe('Window, e.g. "1m"'),
  burst: z
    .strictObject({
      points: points(),
      window: windowMs().describe('Window of the burst allowance, usually longer, e.g. "1h"'),
    })
    .optional()
    .describe('Extra points once the rate is used up, refilled over their own window'),
})

/**
 * A rate as the policy writes it: `"10/1m"` (10 per minute), `{ points, window, burst }`, or
 * `unlimited`. Parsed to a RateSpec, or null for unlimited.
 */
export const rateSpec = () =>
  z
    .union([z.literal('unlimited'), z.string(), rateObject])
    .transform((value, ctx): RateSpec | null => {
      if (value === 'unlimited') return null
      if (typeof value === 'object') {
        const { points: p, window: w, burst } = value
        return { points: p, windowMs: w, burst: burst && { points: burst.points, windowMs: burst.window } }
      }
      const m = SHORTHAND.exec(value)
      const parsed = m ? windowMs().safeParse(m[2]) : null
      if (!m || !parsed?.success || Number(m[1]) < 1) {
        ctx.addIssue({
          code: 'custom',
          message: `expected a rate such as "10/1m" (whole seconds, at least 1s), { points, window } or unlimited, got ${JSON.stringify(value)}`,
        })
        return z.NEVER
      }
      return { points: Number(m[1]), windowMs: parsed.data }
    })

/**
 * Rates per client class: `{ default: "100/1m", residential-dynamic: "10/1m", trusted-server: unlimited }`.
 * A class not listed takes `default`; without `default` it has no limit.
 */
export const classRates = () =>
  z
    .record(className(), rateSpec())
    .describe('Rate per client class ("10/1m", { points, window, burst } or unlimited); "default" for classes not listed')

/** Plain numbers per client class (concurrent connections, recipients per message). */
export const classCounts = (what: string) =>
  z
    .record(className(), z.union([z.number().int().positive(), z.literal('unlimited')]))
    .describe(`${what} per client class (a number or unlimited); "default" for classes not listed`)

/**
 * The value for a class: its own, else `default`, else none (null = no limit). A class set to
 * unlimited stays unlimited whatever `default` says.
 */
export function forClass<T>(map: Readonly<Record<string, T | null | 'unlimited'>>, clientClass: string): T | null {
  const value = classEntry(map, clientClass) ?? null
  return value === 'unlimited' ? null : value
}

/** "10/1m"-style text of a rate for replies and logs. */
export function describeRate(spec: RateSpec): string {
  return `${spec.points} per ${describeWindow(spec.windowMs)}`
}

/** "1m", "30s", "2h" for a window in ms. */
export function describeWindow(ms: number): string {
  const s = Math.round(ms / 1000)
  if (s % 3600 === 0) return `${s / 3600}h`
  if (s % 60 === 0) return `${s / 60}m`
  return `${s}s`
}
