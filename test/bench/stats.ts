/** Median of a list of numbers; NaN for an empty list. */
export function median(values: readonly number[]): number {
  return quantile([...values].sort((a, b) => a - b), 0.5)
}

/**
 * Nearest-rank quantile (q in 0..1) of values that are already sorted ascending; NaN when
 * there are none. The median of an even count is the mean of the two middle values.
 */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length
  if (n === 0) return NaN
  if (q === 0.5 && n % 2 === 0) return ((sorted[n / 2 - 1] as number) + (sorted[n / 2] as number)) / 2
  return sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))] as number
}
