import type { EngineKind } from './engine.js'
import type { MessageExternals, ScanLimits, ScanReport } from './types.js'

// Messages between the scan pool and its scanner threads (structured clone: plain data only):
// the pool sends arrays of ScanRequest, a thread answers each with one ScanResponse.

/** One message to scan. `source` is sent only to a thread that has not compiled the rule set yet. */
export interface ScanRequest {
  id: number
  rules: { id: string; engine: EngineKind | 'auto'; source?: string }
  raw: Uint8Array
  externals: MessageExternals
  limits: ScanLimits
}

/** The answer of a scanner thread. */
export type ScanResponse = { id: number; report: ScanReport } | { id: number; error: string }

/** A report for a message the scanner could not finish, with what stopped it. */
export function limitReport(detail: string, rules: string, started: number): ScanReport {
  return {
    objects: [],
    flags: [{ flag: 'scan_limit', detail, object: 0 }],
    hits: [],
    bytes: 0,
    ms: Date.now() - started,
    complete: false,
    engine: '',
    rules,
  }
}
