import type { ScanLimitsConfig } from '../config/scan-schema.js'
import { scanDurationFor, scansFor } from '../metrics/scan-metrics.js'
import type { MessageData } from '../relay/message.js'
import type { ScanPool } from './pool.js'
import type { RuleSet } from './rule-set.js'
import type { MessageExternals, ScanLimits, ScanReport } from './types.js'

/**
 * The content scanner as a check sees it: the instance's pool of scanner threads, bound to
 * the rule set and limits of one compiled policy (sessions keep the policy they started with,
 * so a reload never changes the rules under a message being scanned).
 */
export interface Scanner {
  /** Scans a message once; asking again for the same message gives the same report. */
  scan(message: MessageData, externals: MessageExternals, notAfter: number): Promise<ScanReport>
  /** The report of a message this scanner was asked to scan, if any. */
  reportFor(message: MessageData): Promise<ScanReport> | undefined
}

/** Scan limits in plain units from the policy's `scan.limits`. */
export function scanLimits(c: ScanLimitsConfig): ScanLimits {
  return {
    depth: c.depth,
    objects: c.objects,
    totalBytes: c.total_bytes,
    expansionRatio: c.expansion_ratio,
    timeMs: c.time,
    memoryBytes: c.memory,
  }
}

/** Binds a pool to a rule set and limits. */
export function boundScanner(pool: ScanPool, rules: RuleSet, limits: ScanLimits, instance: string): Scanner {
  const reports = new WeakMap<MessageData, Promise<ScanReport>>()
  return {
    scan(message, externals, notAfter) {
      const known = reports.get(message)
      if (known) return known
      const started = performance.now()
      const report = pool.scan(message.raw, rules, externals, limits, notAfter).then(
        (r) => {
          scansFor(instance, 'scanned').inc()
          scanDurationFor(instance).observe((performance.now() - started) / 1000)
          return r
        },
        (err: unknown) => {
          scansFor(instance, 'failed').inc()
          throw err
        },
      )
      reports.set(message, report)
      return report
    },
    reportFor: (message) => reports.get(message),
  }
}
