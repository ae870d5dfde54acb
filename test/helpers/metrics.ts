import type { MetricObjectWithValues, MetricValue } from 'prom-client'

interface Readable {
  get(): Promise<MetricObjectWithValues<MetricValue<string>>>
}

/**
 * The sum of a metric's samples whose labels include `labels` (a histogram's `_count` when
 * `sample` says so). Metrics are process-wide: tests compare values before and after.
 */
export async function metricValue(metric: Readable, labels: Record<string, string> = {}, sample?: string): Promise<number> {
  const { values } = await metric.get()
  return values
    .filter((v) => (sample ? (v as { metricName?: string }).metricName?.endsWith(sample) : true))
    .filter((v) => Object.entries(labels).every(([k, want]) => String((v.labels as Record<string, unknown>)[k]) === want))
    .reduce((sum, v) => sum + v.value, 0)
}
