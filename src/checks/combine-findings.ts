import type { SmtpReply } from '../errors/smtp-reply.js'
import type { Verdict } from '../pipeline/types.js'
import type { HitAction } from './class-action.js'

/** One thing a check found, with what it does for this client's class. */
export interface Finding {
  flag: string
  detail: string
  action: HitAction
  /** The refusal, permanent or temporary as the action asks. */
  reply(temporary: boolean): SmtpReply
}

/**
 * One verdict from several findings of one check (rDNS, HELO): the first reject, else the
 * first tempfail, else the tags added up; ignored findings only explain themselves.
 * `extra` describes what was seen besides the findings (the PTR name, the HELO).
 */
export function combineFindings(findings: readonly Finding[], extra: string, clientClass: string): Verdict {
  const counted = findings.filter((f) => f.action.action !== 'ignore')
  const flags = counted.map((f) => f.flag)
  const ignored = findings.filter((f) => f.action.action === 'ignore').map((f) => f.detail)
  const detail = [extra, ...counted.map((f) => f.detail), ...(ignored.length ? [`ignored for class ${clientClass}: ${ignored.join(', ')}`] : [])]
    .filter(Boolean)
    .join('; ')
  const reject = counted.find((f) => f.action.action === 'reject')
  if (reject) return { kind: 'reject', reply: reject.reply(false), flags, detail }
  const tempfail = counted.find((f) => f.action.action === 'tempfail')
  if (tempfail) return { kind: 'tempfail', reply: tempfail.reply(true), flags, detail }
  if (counted.length) {
    const score = counted.reduce((sum, f) => sum + (f.action.action === 'tag' ? f.action.score : 0), 0)
    return { kind: 'tag', score, flags, detail }
  }
  return { kind: 'continue', detail }
}
