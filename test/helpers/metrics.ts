import type { MetricObjectWithValues, MetricValue } from 'prom-client'

/** The value of one sample in Prometheus text format, 0 when absent. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`)
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue
    if (want.every((w) => line.includes(w))) return Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return 0
}

/** Fetches /metrics of a relay's admin listener. */
export async function metricsText(url: string): Promise<string> {
  const res = await fetch(url)
  return res.text()
}


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
