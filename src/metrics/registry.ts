import { Registry, collectDefaultMetrics } from 'prom-client'

/**
 * The one Prometheus registry of the process. Every metric is defined in this folder, named
 * `smarthost_<noun>_<unit>`, with labels from small fixed sets (never a client address).
 */
export const registry = new Registry()
collectDefaultMetrics({ register: registry, prefix: 'smarthost_process_' })
