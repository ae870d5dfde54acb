import type { FlagAction, ScanReport } from './types.js'
import { SCAN_FLAGS } from './types.js'

/** The operator's side of the decision: flag actions and score thresholds. */
export interface DispositionPolicy {
  readonly flagActions: Readonly<Record<string, FlagAction>>
  /** Combined score (earlier stages + this scan) at which the message is held for review. */
  readonly quarantineAt: number | null
  /** Combined score at which it is refused. */
  readonly rejectAt: number | null
}

/** The one decision about a message's content, with what it rests on. */
export interface Disposition {
  kind: 'accept' | 'tag' | 'quarantine' | 'reject' | 'tempfail'
  /** Score this scan adds: rule scores plus the tag scores of flags. */
  score: number
  /** Earlier stages' score plus this scan's. */
  total: number
  /** Short token naming the cause (a rule or flag in kebab-case, or `score`), for reply URLs and the quarantine. */
  reason: string
  /** What the customer is told. */
  description: string
  rule?: string
  flag?: string
}

const SEVERITY = ['reject', 'tempfail', 'quarantine'] as const

/** "Office_Macro_OOXML" → "office-macro-ooxml" */
export function kebab(name: string): string {
  return (
    name
      .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
      .replace(/[^A-Za-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .toLowerCase() || 'content'
  )
}

/** What the customer is told about a flag that decided the message. */
function flagDescription(flag: string): string {
  return Object.hasOwn(SCAN_FLAGS, flag) ? SCAN_FLAGS[flag as keyof typeof SCAN_FLAGS].description : `content flagged ${flag}`
}

/**
 * The dispositioner: turns a scan report, the transaction's flags and the earlier stages'
 * score into one decision. Severity wins: a reject (by a rule's `action`, a flag action or
 * the reject threshold) beats a tempfail, which beats a quarantine (by a rule, a flag or the
 * quarantine threshold), which beats a tag; with no hit and no flag the message is accepted.
 * Each rule and each flag counts once per message, however many objects it matched.
 */
export function dispose(report: ScanReport, txFlags: readonly string[], earlier: number, policy: DispositionPolicy): Disposition {
  const flags = [...new Set([...report.flags.map((f) => f.flag), ...txFlags])]
  const hits = [...report.hits].sort((a, b) => b.score - a.score)
  let score = hits.reduce((sum, h) => sum + h.score, 0)
  for (const f of flags) {
    const a = policy.flagActions[f]
    if (a?.action === 'tag') score += a.score
  }
  const total = earlier + score
  const result = (kind: Disposition['kind'], reason: string, description: string, extra: Partial<Disposition> = {}): Disposition => ({
    kind,
    score,
    total,
    reason,
    description,
    ...extra,
  })
  for (const severity of SEVERITY) {
    const hit = severity === 'tempfail' ? undefined : hits.find((h) => h.action === severity)
    if (hit) return result(severity, kebab(hit.rule), hit.description, { rule: hit.rule })
    const flag = flags.find((f) => policy.flagActions[f]?.action === severity)
    if (flag) return result(severity, kebab(flag), flagDescription(flag), { flag })
    const threshold = severity === 'reject' ? policy.rejectAt : severity === 'quarantine' ? policy.quarantineAt : null
    if (threshold !== null && total >= threshold) {
      const top = hits[0]
      const why = top ? `${top.description} (${top.rule})` : 'several suspicious traits'
      return result(severity, 'score', `content score ${round(total)} reached the limit of ${round(threshold)}: ${why}`, top ? { rule: top.rule } : {})
    }
  }
  if (hits.length || flags.some((f) => policy.flagActions[f]?.action === 'tag')) {
    return result('tag', hits[0] ? kebab(hits[0].rule) : 'flags', hits[0]?.description ?? 'flagged content')
  }
  return result('accept', 'clean', 'nothing found')
}

const round = (n: number) => Math.round(n * 100) / 100
