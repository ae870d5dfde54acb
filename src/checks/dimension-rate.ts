import { rateLimited } from '../errors/replies.js'
import type { SmtpReply } from '../errors/smtp-reply.js'
import type { Dimension } from '../limits/dimensions.js'
import { describeRate } from '../limits/rate-spec.js'
import type { RateSpec } from '../limits/rate-spec.js'
import type { LimitResult } from '../limits/limit.js'
import type { CheckDeps, CheckFn, StageContext, Verdict } from '../pipeline/types.js'
import type { Hit } from './limit-common.js'
import { ClassLimits, dimensionValue, hitDetail, modeOf, recordHits, stateFault, stateOf, whom } from './limit-common.js'

/** How one rate check counts: what, where it answers, and when it applies. */
export interface DimensionRate {
  readonly check: string
  /** Plural noun for log details: "messages", "recipients". */
  readonly unit: string
  /** Flag prefix, e.g. RATE_MESSAGE; the dimension is appended (RATE_MESSAGE_ADDRESS) unless `flagDimension` is false. */
  readonly flag: string
  /** False for a check with one dimension whose flag says it all (RATE_CONNECTION). */
  readonly flagDimension?: boolean
  readonly dimensions: readonly Dimension[]
  /** The refusal, about the first dimension over its limit; `retryMs` is the longest wait of all hits. */
  readonly reply: (hit: Hit, retryMs: number, ctx: StageContext) => SmtpReply
  /** A state fault at connect (or TLS) is answered with 421, which closes the connection. */
  readonly atConnect?: boolean
  /** The answer when this call does not count at all (the null-sender rate counts bounces only). */
  readonly skip?: (ctx: StageContext) => Extract<Verdict, { kind: 'continue' }> | null
  /** True when this call only looks whether the client is over, without counting (a successful AUTH). */
  readonly peek?: (ctx: StageContext) => boolean
  /** The hits that stand, of those found (a known login is let through a user's lockout). */
  readonly forgive?: (hits: Hit[], ctx: StageContext) => Promise<Hit[]>
}

/** The reply of the message and recipient rates: "Message rate limit reached for your address …" (451 at MAIL, 450 at RCPT). */
export function rateReply(what: string, code: 450 | 451): DimensionRate['reply'] {
  return (hit, retryMs) => rateLimited(what, whom(hit.dimension, hit.value), describeRate(hit.limit.spec), retryMs, code)
}

type Rates = Partial<Record<Dimension, Readonly<Record<string, RateSpec | null>>>>

/**
 * A check that counts one point per call in every configured dimension (address, subnet,
 * user, sender domain) and tempfails when any of them is over its class's rate. Every
 * dimension is counted even when one is already over, so the counts stay true.
 */
export function dimensionRate(rate: DimensionRate) {
  return (entry: { limits: Rates }, deps: CheckDeps): CheckFn => {
    const state = stateOf(deps)
    const byDimension = rate.dimensions.flatMap((d) => {
      const rates = entry.limits[d]
      return rates ? [{ dimension: d, limits: new ClassLimits(state, rate.check, d, rates) }] : []
    })
    const flags = (hits: readonly Hit[]) =>
      rate.flagDimension === false ? [rate.flag] : hits.map((h) => `${rate.flag}_${h.dimension.toUpperCase()}`)
    return async function rateCheck(ctx) {
      const skipped = rate.skip?.(ctx)
      if (skipped) return skipped
      const clientClass = ctx.session.clientClass
      const peek = rate.peek?.(ctx) === true
      // Plain loops: this runs for every message and recipient.
      const counted: Omit<Hit, 'result'>[] = []
      const pending: Promise<LimitResult>[] = []
      for (const { dimension, limits } of byDimension) {
        const limit = limits.for(clientClass)
        const value = limit && dimensionValue(dimension, ctx)
        if (!limit || !value) continue
        counted.push({ dimension, value, limit })
        pending.push(peek ? limit.peek(value) : limit.consume(value))
      }
      if (!counted.length) return { kind: 'continue' }
      let results: LimitResult[]
      try {
        results = pending.length === 1 ? [await (pending[0] as Promise<LimitResult>)] : await Promise.all(pending)
      } catch (err) {
        return stateFault(err, state, rate.atConnect === true, rate.flag)
      }
      let hits: Hit[] = []
      for (const [i, result] of results.entries()) if (result.over) hits.push({ ...(counted[i] as Omit<Hit, 'result'>), result })
      if (hits.length && rate.forgive) hits = await rate.forgive(hits, ctx)
      const first = hits[0]
      if (!first) return { kind: 'continue' }
      const retryMs = recordHits(hits, ctx, state, rate.check, modeOf(entry))
      return {
        kind: 'tempfail',
        offending: true,
        reply: rate.reply(first, retryMs, ctx),
        flags: flags(hits),
        detail: hits.map((h) => hitDetail(h, rate.unit, clientClass)).join('; '),
      }
    }
  }
}
