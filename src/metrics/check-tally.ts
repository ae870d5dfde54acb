import type { Counter, Histogram } from 'prom-client'

/** The buckets of smarthost_check_duration_seconds. */
export const CHECK_DURATION_BUCKETS = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5]

/** prom-client 15 keeps each series of a histogram in `hashMap`: bucket counts by upper bound, sum and count. */
interface HistogramSeries {
  labels: Record<string, string>
  bucketValues: Record<number, number>
  sum: number
  count: number
}
interface HistogramInternals {
  hashMap: Record<string, HistogramSeries>
}

/**
 * What one check of one instance did since the last scrape, in plain numbers. A message runs
 * some 30 checks, and each prom-client update hashes and validates its labels (a labelled
 * child too); here a result is a few additions, and the totals reach prom-client when
 * /metrics is read (flushCheckTallies, from the metrics' collect hooks).
 */
export class CheckTally {
  readonly instance: string
  readonly check: string
  readonly mode: string
  /** Results since the last flush, by outcome. */
  readonly #outcomes = new Map<string, number>()
  /** Durations since the last flush, by bucket (the last one: above every bound). */
  readonly #buckets = new Array<number>(CHECK_DURATION_BUCKETS.length + 1).fill(0)
  #sum = 0
  #count = 0

  constructor(instance: string, check: string, mode: string) {
    this.instance = instance
    this.check = check
    this.mode = mode
  }

  /** One result of the check and the seconds it took. */
  record(outcome: string, seconds: number): void {
    this.#outcomes.set(outcome, (this.#outcomes.get(outcome) ?? 0) + 1)
    let b = 0
    while (b < CHECK_DURATION_BUCKETS.length && seconds > (CHECK_DURATION_BUCKETS[b] as number)) b++
    this.#buckets[b] = (this.#buckets[b] as number) + 1
    this.#sum += seconds
    this.#count++
  }

  /** Adds what was recorded to the counter and the histogram, and starts again from zero. */
  flush(results: Counter<'relay_instance' | 'check' | 'outcome' | 'mode'>, durations: Histogram<'check'>): void {
    for (const [outcome, n] of this.#outcomes) {
      if (n > 0) results.inc({ relay_instance: this.instance, check: this.check, outcome, mode: this.mode }, n)
    }
    this.#outcomes.clear()
    if (this.#count === 0) return
    const series = seriesOf(durations, this.check)
    // Buckets are cumulative in the exposition; prom-client counts each observation in its own bucket.
    this.#buckets.forEach((n, b) => {
      const bound = CHECK_DURATION_BUCKETS[b]
      if (bound !== undefined && n > 0) series.bucketValues[bound] = (series.bucketValues[bound] ?? 0) + n
    })
    series.sum += this.#sum
    series.count += this.#count
    this.#buckets.fill(0)
    this.#sum = 0
    this.#count = 0
  }
}

/** The histogram's series for `check`, created (at zero) if it has none yet. */
function seriesOf(durations: Histogram<'check'>, check: string): HistogramSeries {
  const map = (durations as unknown as HistogramInternals).hashMap
  const find = () => Object.values(map).find((s) => s.labels.check === check)
  let series = find()
  if (!series) {
    durations.zero({ check })
    series = find()
    if (!series) throw new Error('prom-client Histogram internals changed: no series after zero()')
  }
  return series
}

const tallies = new Map<string, CheckTally>()

/** The tally of (instance, check, mode); the runner keeps it with the compiled check. */
export function checkTallyFor(instance: string, check: string, mode: string): CheckTally {
  const key = `${instance}\u0000${check}\u0000${mode}`
  let tally = tallies.get(key)
  if (!tally) {
    tally = new CheckTally(instance, check, mode)
    tallies.set(key, tally)
  }
  return tally
}

/** Hands every tally's results to prom-client (before /metrics is read). */
export function flushCheckTallies(results: Counter<'relay_instance' | 'check' | 'outcome' | 'mode'>, durations: Histogram<'check'>): void {
  for (const tally of tallies.values()) tally.flush(results, durations)
}
