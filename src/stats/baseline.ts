/** The hourly volumes a baseline learns: messages, recipients, refusals. */
export const BASELINE_SERIES = ['messages', 'recipients', 'refused'] as const
export type BaselineSeries = (typeof BASELINE_SERIES)[number]

const HOURS_PER_WEEK = 168
/** Gaps longer than a week are folded as one week of quiet hours: older history has decayed anyway. */
const MAX_GAP = HOURS_PER_WEEK

/** How fast a baseline forgets: an exponentially weighted mean over about `span` hours (α = 2 / (span + 1)). */
export interface BaselineOptions {
  /** Hours the overall mean spans (default a week). */
  span: number
  /** Weeks the hour-of-week means span. */
  weekSpan: number
  /** Times an hour of the week must have been seen before its own mean is used. */
  weekMinSeen: number
}

export const DEFAULT_BASELINE: BaselineOptions = { span: HOURS_PER_WEEK, weekSpan: 4, weekMinSeen: 2 }

/**
 * A client key's long-term hourly volume: an exponentially weighted mean and variance per series
 * (West 1979's incremental form), and the messages mean by hour of the week once a day of
 * history exists. Plain data, so it can be written to a snapshot or a Redis hash.
 */
export interface Baseline {
  /** Hours learned so far (quiet hours included). */
  hours: number
  /** The last hour (ms epoch / 1 h) folded in. */
  lastHour: number
  mean: number[]
  variance: number[]
  /** Messages mean per hour of week (0 = Thursday 00:00 UTC, the epoch's weekday), or null. */
  week: number[] | null
  weekSeen: number[] | null
}

export function newBaseline(lastHour: number): Baseline {
  return { hours: 0, lastHour, mean: [0, 0, 0], variance: [0, 0, 0], week: null, weekSeen: null }
}

/**
 * Folds the closed hours after `b.lastHour` up to `untilHour` (exclusive) into `b`; hours with no
 * entry in `volumes` count as quiet. A new baseline learns its first hours as a plain mean.
 */
export function foldHours(b: Baseline, volumes: ReadonlyMap<number, readonly number[]>, untilHour: number, opts = DEFAULT_BASELINE): void {
  const start = Math.max(b.lastHour + 1, untilHour - MAX_GAP)
  const quiet = [0, 0, 0]
  for (let hour = start; hour < untilHour; hour++) foldOne(b, hour, volumes.get(hour) ?? quiet, opts)
  if (untilHour - 1 > b.lastHour) b.lastHour = untilHour - 1
}

function foldOne(b: Baseline, hour: number, x: readonly number[], opts: BaselineOptions): void {
  b.hours++
  const alpha = Math.max(2 / (opts.span + 1), 1 / b.hours)
  for (let i = 0; i < BASELINE_SERIES.length; i++) {
    const diff = x[i]! - b.mean[i]!
    const incr = alpha * diff
    b.mean[i] = b.mean[i]! + incr
    b.variance[i] = (1 - alpha) * (b.variance[i]! + diff * incr)
  }
  if (b.hours < 24 && !b.week) return
  b.week ??= Array<number>(HOURS_PER_WEEK).fill(0)
  b.weekSeen ??= Array<number>(HOURS_PER_WEEK).fill(0)
  const slot = hour % HOURS_PER_WEEK
  const seen = ++b.weekSeen[slot]!
  const a = Math.max(2 / (opts.weekSpan + 1), 1 / seen)
  b.week[slot] = b.week[slot]! + a * (x[0]! - b.week[slot]!)
}

/** How one hour's volume compares with the baseline. */
export interface Comparison {
  observed: number
  expected: number
  /** observed / expected, with expected floored at one message an hour. */
  ratio: number
  /** (observed - expected) / sd, with a Poisson floor on the variance (a count's variance is at least its mean). */
  z: number
  /** `hour_of_week` when that hour has enough history, else `overall`. */
  basis: 'hour_of_week' | 'overall'
}

/** Compares `observed` (of `series`, in the hour `hour`) with the baseline. */
export function compare(b: Baseline, series: BaselineSeries, hour: number, observed: number, opts = DEFAULT_BASELINE): Comparison {
  const i = BASELINE_SERIES.indexOf(series)
  const slot = hour % HOURS_PER_WEEK
  const byWeek = i === 0 && b.week !== null && (b.weekSeen?.[slot] ?? 0) >= opts.weekMinSeen
  const expected = byWeek ? b.week![slot]! : b.mean[i]!
  const sd = Math.sqrt(Math.max(b.variance[i]!, expected, 1))
  return {
    observed,
    expected: round(expected),
    ratio: round(observed / Math.max(expected, 1)),
    z: round((observed - expected) / sd),
    basis: byWeek ? 'hour_of_week' : 'overall',
  }
}

const round = (n: number) => Math.round(n * 100) / 100
