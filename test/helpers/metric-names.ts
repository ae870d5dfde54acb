// The metric names the relay exports, read from src/metrics: what dashboards, alerting rules
// and docs/metrics.md may name.
import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Registry, collectDefaultMetrics } from 'prom-client'

const METRICS_SRC = fileURLToPath(new URL('../../src/metrics/', import.meta.url))

/** A metric defined in src/metrics: its name and type. */
export interface MetricDefinition {
  name: string
  type: string
}

/** Sample names a metric of this type exposes (histogram `x` → x_bucket, x_sum, x_count). */
export function sampleNames(name: string, type: string): string[] {
  if (type === 'histogram') return [name, `${name}_bucket`, `${name}_sum`, `${name}_count`]
  if (type === 'summary') return [name, `${name}_sum`, `${name}_count`]
  return [name]
}

function metricSources(): string {
  let sources = ''
  for (const file of readdirSync(METRICS_SRC).filter((f) => f.endsWith('.ts'))) {
    sources += readFileSync(join(METRICS_SRC, file), 'utf8') + '\n'
  }
  return sources
}

/** Every `new Counter|Gauge|Histogram|Summary({ name })` of src/metrics. */
export function definedMetrics(): MetricDefinition[] {
  const sources = metricSources()
  const definitions = [
    ...sources.matchAll(
      /new\s+(Counter|Gauge|Histogram|Summary)\b[^(]*\(\s*\{[^}]*?\bname:\s*'(smarthost_[a-zA-Z0-9_]+)'/g,
    ),
  ]
  const declared = sources.match(/\bname:\s*'smarthost_/g) ?? []
  assert.ok(definitions.length > 0, 'no metric definitions found in src/metrics')
  assert.equal(
    definitions.length,
    declared.length,
    'a metric name in src/metrics is not in a new Counter/Gauge/Histogram/Summary({ name }) call',
  )
  return definitions.map(([, type = '', name = '']) => ({ name, type: type.toLowerCase() }))
}

/** The prefix of prom-client's default process metrics, as src/metrics registers them. */
export function defaultMetricsPrefix(): string | undefined {
  return /collectDefaultMetrics\(\s*\{[^}]*\bprefix:\s*'([^']+)'/.exec(metricSources())?.[1]
}

/** Every sample name the relay exports: src/metrics/*.ts plus prom-client's default metrics. */
export async function exportedNames(): Promise<Set<string>> {
  const names = new Set<string>()
  for (const { name, type } of definedMetrics()) for (const n of sampleNames(name, type)) names.add(n)
  const prefix = defaultMetricsPrefix()
  if (prefix !== undefined) {
    const registry = new Registry()
    collectDefaultMetrics({ register: registry, prefix })
    for (const metric of await registry.getMetricsAsJSON()) {
      for (const n of sampleNames(metric.name, String(metric.type))) names.add(n)
    }
  }
  return names
}
