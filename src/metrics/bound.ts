/**
 * Caches the children of a labelled metric by label values. prom-client hashes the label
 * object on every inc/observe; on the per-message path a Map lookup is several times cheaper.
 * Label sets are small and fixed, so the cache stays small.
 *
 * @example const refusals = bound((...v) => refusalsTotal.labels(...v)); refusals('outbound', 'rcpt', '550').inc()
 */
export function bound<C>(labels: (...values: string[]) => C): (...values: string[]) => C {
  const cache = new Map<string, C>()
  return (...values) => {
    const key = values.join('\u0000')
    let child = cache.get(key)
    if (child === undefined) {
      child = labels(...values)
      cache.set(key, child)
    }
    return child
  }
}
