import { localError } from '../errors/replies.js'
import { RelayError } from '../errors/relay-error.js'
import type { SmtpReply } from '../errors/smtp-reply.js'
import { checkDurationFor, checkResultFor } from '../metrics/relay-metrics.js'
import type { ScanSummary } from '../scan/summary.js'
import type { CompiledCheck } from './compile.js'
import { withDeadline } from './deadlines.js'
import type { AuthResult, CheckResult, HeaderField, StageContext, Verdict } from './types.js'

/** Where a stage's tags and results go: the session record or the transaction record. */
export interface ScoreSink {
  score: number
  flags: string[]
  checks: CheckResult[]
  headers: HeaderField[]
  authResults?: AuthResult[]
  scan?: ScanSummary
}

/** What ended a stage early, if anything. */
export type StageDecision =
  | { kind: 'reject' | 'tempfail'; reply: SmtpReply; check: string; offending?: true }
  | { kind: 'quarantine'; reason: string; description: string; check: string }
  | null

class CheckTimeout extends Error {}

/**
 * Runs the checks of one stage in order and records each verdict in `sink`.
 *
 * The first enforced reject or tempfail ends the stage. `accept` skips the remaining
 * non-core checks of this stage only. A quarantine is remembered while later checks run,
 * since a reject outranks it. Warn mode records and changes nothing. A throw or timeout is
 * outcome `error`, handled by the check's on_error. `deadline` (ms epoch) bounds the stage.
 */
export async function runStage(
  checks: readonly CompiledCheck[],
  ctx: StageContext,
  sink: ScoreSink,
  deadline: number,
): Promise<StageDecision> {
  let accepted = false
  let quarantine: StageDecision = null
  for (const check of checks) {
    if (accepted && !check.core) continue
    if (!check.appliesTo(ctx.session.clientClass)) continue
    const started = performance.now()
    let verdict: Verdict
    let error: string | undefined
    try {
      verdict = await withTimeout(check, ctx, Math.min(check.timeoutMs, deadline - Date.now()))
    } catch (err) {
      const code = err instanceof CheckTimeout ? 'RELAY_ERR_CHECK_TIMEOUT' : 'RELAY_ERR_CHECK_FAILED'
      const fault = new RelayError(code, [check.id, err instanceof CheckTimeout ? check.timeoutMs : String(err)], {
        cause: err,
      })
      ctx.log.warn({ err: fault, check: check.id, code }, fault.message)
      error = fault.message
      verdict = check.onError === 'tempfail' ? { kind: 'tempfail', reply: localError() } : { kind: 'continue' }
    }
    const ms = performance.now() - started
    const warn = check.mode === 'warn' && verdict.kind !== 'continue'
    record(sink, check, ctx, verdict, ms, warn, error)
    // What the scan found is evidence even when the check only warns.
    if (verdict.scan) sink.scan = verdict.scan
    // What was checked stays true when the check only warns.
    if (verdict.authResults) (sink.authResults ??= []).push(...verdict.authResults)
    if (warn) continue
    if (verdict.headers) sink.headers.push(...verdict.headers)
    if (verdict.reclassify) ctx.reclassify?.(verdict.reclassify, check.id)
    switch (verdict.kind) {
      case 'reject':
      case 'tempfail':
        return { kind: verdict.kind, reply: verdict.reply, check: check.id, ...(verdict.offending ? { offending: true } : {}) }
      case 'accept':
        accepted = true
        break
      case 'tag':
        sink.score += verdict.score
        break
      case 'quarantine':
        quarantine ??= { kind: 'quarantine', reason: verdict.reason, description: verdict.description ?? verdict.reason, check: check.id }
        break
      case 'continue':
        break
    }
  }
  return quarantine
}

function record(
  sink: ScoreSink,
  check: CompiledCheck,
  ctx: StageContext,
  verdict: Verdict,
  ms: number,
  warn: boolean,
  error: string | undefined,
): void {
  const outcome = error ? 'error' : verdict.kind
  checkResultFor(ctx.session.instance, check.id, outcome, check.mode).inc()
  checkDurationFor(check.id).observe(ms / 1000)
  // A plain "no opinion" says nothing worth a line in every message's record: only a continue
  // that explains itself (SPF pass, a list that did not answer) is kept.
  if (outcome === 'continue' && (check.core || !('detail' in verdict && verdict.detail))) return
  const result: CheckResult = { check: check.id, stage: check.stage, outcome, ms: Math.round(ms * 100) / 100 }
  if (warn) result.warn = true
  if (ctx.rcpt) result.rcpt = ctx.rcpt.address
  if (verdict.kind === 'tag') result.score = verdict.score
  const flags = 'flags' in verdict ? verdict.flags : undefined
  if (flags?.length) {
    result.flags = flags
    if (!warn) for (const f of flags) if (!sink.flags.includes(f)) sink.flags.push(f)
  }
  const detail = error ?? ('detail' in verdict ? verdict.detail : undefined)
  if (detail) result.detail = detail
  if ('reply' in verdict) result.reply = verdict.reply.toString()
  sink.checks.push(result)
}

function withTimeout(check: CompiledCheck, ctx: StageContext, ms: number): Verdict | Promise<Verdict> {
  if (ms <= 0) throw new CheckTimeout()
  const result = check.run(ctx)
  return result instanceof Promise ? withDeadline(result, ms, () => new CheckTimeout()) : result
}
