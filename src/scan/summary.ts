import type { Disposition } from './disposition.js'
import type { ScanReport } from './types.js'

/** The scan of a message as the transaction record keeps it (one log line per message). */
export interface ScanSummary {
  objects: number
  /** Decoded bytes examined. */
  bytes: number
  /** False when a limit stopped the explosion early. */
  complete: boolean
  flags: string[]
  /** Rules that matched, each once. */
  hits: string[]
  score: number
  decision: Disposition['kind']
  /** The cause and what the customer is told; absent when the content was accepted. */
  reason?: string
  description?: string
  ms: number
  engine: string
}

/** Summarizes a report and its disposition for the transaction record. */
export function summarize(report: ScanReport, disposition: Disposition): ScanSummary {
  return {
    objects: report.objects.length,
    bytes: report.bytes,
    complete: report.complete,
    flags: report.flags.map((f) => f.flag),
    hits: report.hits.map((h) => h.rule),
    score: disposition.score,
    decision: disposition.kind,
    ...(disposition.kind === 'accept' ? {} : { reason: disposition.reason, description: disposition.description }),
    ms: report.ms,
    engine: report.engine,
  }
}
