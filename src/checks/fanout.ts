import { z } from 'zod'
import { fanoutLimited } from '../errors/replies.js'
import type { Dimension } from '../limits/dimensions.js'
import type { Limit } from '../limits/limit.js'
import { describeRate } from '../limits/rate-spec.js'
import { defineCheck } from '../pipeline/types.js'
import { actionFor, classActions, hitVerdict } from './class-action.js'
import type { Hit } from './limit-common.js'
import { ClassLimits, dimensionRates, dimensionValue, hitDetail, modeOf, recordHits, stateFault, stateOf, whom } from './limit-common.js'

const DIMENSIONS = ['address', 'user'] as const

/** A dimension's limits for one class: the domain counter and its "seen" markers. */
interface Counted {
  readonly dimension: Dimension
  readonly counter: Limit
  readonly seen: Limit
}

/** Counts `domain` for `value` if it is new in the window; the hit when that goes over the limit. */
async function countDomain({ dimension, counter, seen }: Counted, value: string, domain: string): Promise<Hit | null> {
  const first = await seen.consume(`${value}|${domain}`)
  if (first.consumed !== 1) return null
  const result = await counter.consume(value)
  return result.over ? { dimension, value, limit: counter, result } : null
}

/**
 * rcpt.fanout: distinct recipient domains per client address or user and window. A bot
 * mails hundreds of domains; a business mails a few dozen. By default a hit only tags
 * (flag RATE_FANOUT_<DIMENSION>) as a signal for alerting; `actions` can defer per class.
 * Verdicts: tag, tempfail 450 4.7.1, or continue, per class.
 */
export const recipientFanout = defineCheck({
  id: 'rcpt.fanout',
  stage: 'rcpt',
  description: 'Distinct recipient domains per address or user and window, per client class: tag (default) or 450 4.7.1 over it.',
  options: z.strictObject({
    limits: dimensionRates([...DIMENSIONS], 'Distinct recipient domains'),
    actions: classActions({ tag: 0 }),
  }),
  create: (entry, deps) => {
    const state = stateOf(deps)
    const dims = DIMENSIONS.flatMap((d) => {
      const rates = entry.limits[d]
      return rates ? [{ dimension: d, counter: new ClassLimits(state, 'rcpt.fanout', d, rates) }] : []
    })
    // A domain counts once per window: a "seen" marker per client and domain (1 point) in the
    // counter's window, then the counter. Markers of one dimension and window are shared by classes.
    const seen = new Map<string, Limit>()
    const seenLimit = (dimension: string, windowMs: number) => {
      const key = `${dimension}/${windowMs}`
      let limit = seen.get(key)
      if (!limit) seen.set(key, (limit = state.limit('rcpt.fanout', `${dimension}-seen`, { points: 1, windowMs })))
      return limit
    }
    const perClass = new Map<string, Counted[]>()
    const countedFor = (clientClass: string): Counted[] => {
      let counted = perClass.get(clientClass)
      if (!counted) {
        counted = dims.flatMap(({ dimension, counter }) => {
          const limit = counter.for(clientClass)
          return limit ? [{ dimension, counter: limit, seen: seenLimit(dimension, limit.spec.windowMs) }] : []
        })
        perClass.set(clientClass, counted)
      }
      return counted
    }
    return async function fanout(ctx) {
      const domain = ctx.rcpt?.domain
      if (!domain) return { kind: 'continue' }
      const clientClass = ctx.session.clientClass
      let found: (Hit | null)[]
      try {
        // Dimensions are independent: counted at once (one Redis pipeline); within one, the
        // counter waits for the marker, since only a first sighting of the domain counts.
        found = await Promise.all(
          countedFor(clientClass).flatMap((c) => {
            const value = dimensionValue(c.dimension, ctx)
            return value ? [countDomain(c, value, domain)] : []
          }),
        )
      } catch (err) {
        return stateFault(err, state, false, 'RATE_FANOUT')
      }
      const hits = found.filter((h): h is Hit => h !== null)
      const hit = hits[0]
      if (!hit) return { kind: 'continue' }
      // A limit defers, it never refuses for good: reject is taken as tempfail.
      const configured = actionFor(entry.actions, clientClass)
      const action = configured.action === 'reject' ? ({ action: 'tempfail' } as const) : configured
      const retryMs = recordHits(hits, ctx, state, 'rcpt.fanout', modeOf(entry), action.action === 'tempfail')
      const verdict = hitVerdict(action, {
        flags: hits.map((h) => `RATE_FANOUT_${h.dimension.toUpperCase()}`),
        detail: hits.map((h) => hitDetail(h, 'recipient domains', clientClass)).join('; '),
        reply: () => fanoutLimited(whom(hit.dimension, hit.value), describeRate(hit.limit.spec), retryMs),
      })
      return verdict.kind === 'tempfail' ? { ...verdict, offending: true } : verdict
    }
  },
})
