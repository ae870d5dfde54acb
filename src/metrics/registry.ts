import { Registry, collectDefaultMetrics } from 'prom-client'

/**
 * The one Prometheus registry of the process. Every metric is defined in this folder, named
 * `smarthost_<noun>_<unit>`, with labels from small fixed sets (never a client address).
 * Our instance (outbound, inbound) is the label `relay_instance`: Prometheus owns `instance`
 * (the scrape target) and would rename ours to `exported_instance`.
 */
export const registry = new Registry()
collectDefaultMetrics({ register: registry, prefix: 'smarthost_process_' })
