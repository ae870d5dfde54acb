import { Counter, Gauge, Histogram } from 'prom-client'
import { bound } from './bound.js'
import { registry } from './registry.js'

/** Messages scanned, by result: scanned (a report came back) or failed (scanner fault, busy). */
export const scansTotal = new Counter({
  name: 'smarthost_scans_total',
  help: 'Messages the content scanner examined, by result (scanned, failed)',
  labelNames: ['relay_instance', 'result'] as const,
  registers: [registry],
})

/** Time from asking for a scan to its report, queueing included. */
export const scanDuration = new Histogram({
  name: 'smarthost_scan_duration_seconds',
  help: 'Time to scan one message, waiting for a scanner thread included',
  labelNames: ['relay_instance'] as const,
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [registry],
})

const backlogs = new Map<string, () => number>()

/** Makes `smarthost_scans_in_progress` report an instance's scans in flight, read when scraped. */
export function reportScansInProgress(instance: string, count: () => number): void {
  backlogs.set(instance, count)
}

/** Scans running or waiting for a scanner thread now (read from the pools at scrape time, not counted per message). */
export const scansInProgress = new Gauge({
  name: 'smarthost_scans_in_progress',
  help: 'Scans running or waiting for a scanner thread',
  labelNames: ['relay_instance'] as const,
  registers: [registry],
  collect() {
    for (const [instance, count] of backlogs) this.set({ relay_instance: instance }, count())
  },
})

/** Messages a rule matched, by rule (rule names come from the operator's rule pack). */
export const scanRuleHits = new Counter({
  name: 'smarthost_scan_rule_hits_total',
  help: 'Messages in which a YARA-X rule matched, by rule',
  labelNames: ['relay_instance', 'rule'] as const,
  registers: [registry],
})

/** Messages that got a scanner flag, by flag (archive_bomb, scan_limit, …). */
export const scanFlags = new Counter({
  name: 'smarthost_scan_flags_total',
  help: 'Messages with a scanner flag, by flag',
  labelNames: ['relay_instance', 'flag'] as const,
  registers: [registry],
})

/** What the dispositioner decided: accept, tag, quarantine, reject, tempfail. */
export const scanDispositions = new Counter({
  name: 'smarthost_scan_dispositions_total',
  help: 'Decisions of the content dispositioner (accept, tag, quarantine, reject, tempfail)',
  labelNames: ['relay_instance', 'disposition'] as const,
  registers: [registry],
})

/** Messages written to the quarantine, by kind: held (for review) or refused. */
export const quarantineStored = new Counter({
  name: 'smarthost_quarantine_messages_total',
  help: 'Messages written to the quarantine, by kind (held for review, refused)',
  labelNames: ['relay_instance', 'kind'] as const,
  registers: [registry],
})

// Children by label values, in labelNames order, for the per-message path.
/** (relay_instance, result) */
export const scansFor = bound((...v) => scansTotal.labels(...v))
/** (relay_instance) */
export const scanDurationFor = bound((...v) => scanDuration.labels(...v))
/** (relay_instance, rule) */
export const scanRuleHitsFor = bound((...v) => scanRuleHits.labels(...v))
/** (relay_instance, flag) */
export const scanFlagsFor = bound((...v) => scanFlags.labels(...v))
/** (relay_instance, disposition) */
export const scanDispositionsFor = bound((...v) => scanDispositions.labels(...v))
/** (relay_instance, kind) */
export const quarantineStoredFor = bound((...v) => quarantineStored.labels(...v))
