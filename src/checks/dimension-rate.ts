import { rateLimited } from '../errors/replies.js'
import type { Dimension } from '../limits/dimensions.js'
import { describeRate } from '../limits/rate-spec.js'
import type { RateSpec } from '../limits/rate-spec.js'
import type { LimitResult } from '../limits/limit.js'
import type { CheckDeps, CheckFn, StageContext } from '../pipeline/types.js'
import type { Hit } from './limit-common.js'
import { ClassLimits, dimensionValue, hitDetail, modeOf, recordHits, stateFault, stateOf, whom } from './limit-common.js'

/** How one rate check counts: what, where it answers, and when it applies. */
export interface DimensionRate {
  readonly check: string
  /** "Message", "Recipient", "Bounce (null sender)": the start of the reply text. */
  readonly what: string
  /** Plural noun for log details: "messages", "recipients". */
  readonly unit: string
  /** Flag prefix, e.g. RATE_MESSAGE; the dimension is appended (RATE_MESSAGE_ADDRESS). */
  readonly flag: string
  /** 451 at MAIL (the transaction), 450 at RCPT (this recipient). */
  readonly code: 450 | 451
  readonly dimensions: readonly Dimension[]
  /** Only these transactions count (the null-sender rate counts bounces only). */
  readonly applies?: (ctx: StageContext) => boolean
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
    return async function rateCheck(ctx) {
      if (rate.applies && !rate.applies(ctx)) return { kind: 'continue' }
      const clientClass = ctx.session.clientClass
      // Plain loops: this runs for every message and recipient.
      const counted: Omit<Hit, 'result'>[] = []
      const pending: Promise<LimitResult>[] = []
      for (const { dimension, limits } of byDimension) {
        const limit = limits.for(clientClass)
        const value = limit && dimensionValue(dimension, ctx)
        if (!limit || !value) continue
        counted.push({ dimension, value, limit })
        pending.push(limit.consume(value))
      }
      if (!counted.length) return { kind: 'continue' }
      let results: LimitResult[]
      try {
        results = pending.length === 1 ? [await (pending[0] as Promise<LimitResult>)] : await Promise.all(pending)
      } catch (err) {
        return stateFault(err, state, false, rate.flag)
      }
      const hits: Hit[] = []
      for (const [i, result] of results.entries()) if (result.over) hits.push({ ...(counted[i] as Omit<Hit, 'result'>), result })
      const first = hits[0]
      if (!first) return { kind: 'continue' }
      const retryMs = recordHits(hits, ctx, state, rate.check, modeOf(entry))
      return {
        kind: 'tempfail',
        reply: rateLimited(rate.what, whom(first.dimension, first.value), describeRate(first.limit.spec), retryMs, rate.code),
        flags: hits.map((h) => `${rate.flag}_${h.dimension.toUpperCase()}`),
        detail: hits.map((h) => hitDetail(h, rate.unit, clientClass)).join('; '),
      }
    }
  }
}
