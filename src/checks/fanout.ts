import { z } from 'zod'
import { fanoutLimited } from '../errors/replies.js'
import type { Limit } from '../limits/limit.js'
import { describeRate, forClass } from '../limits/rate-spec.js'
import { defineCheck } from '../pipeline/types.js'
import { actionFor, classActions, hitVerdict } from './class-action.js'
import type { Hit } from './limit-common.js'
import { ClassLimits, dimensionRates, dimensionValue, hitDetail, modeOf, recordHits, stateFault, stateOf, whom } from './limit-common.js'

const DIMENSIONS = ['address', 'user'] as const

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
      // A domain counts once per window: a "seen" marker per client and domain (1 point), then the counter.
      return rates ? [{ dimension: d, counter: new ClassLimits(state, 'rcpt.fanout', d, rates), rates }] : []
    })
    const seen = new Map<string, Limit>()
    const seenLimit = (dimension: string, windowMs: number) => {
      const key = `${dimension}/${windowMs}`
      let limit = seen.get(key)
      if (!limit) seen.set(key, (limit = state.limit('rcpt.fanout', `${dimension}-seen`, { points: 1, windowMs })))
      return limit
    }
    return async function fanout(ctx) {
      const domain = ctx.rcpt?.domain
      if (!domain) return { kind: 'continue' }
      const clientClass = ctx.session.clientClass
      const hits: Hit[] = []
      try {
        for (const { dimension, counter, rates } of dims) {
          const limit = counter.for(clientClass)
          const value = dimensionValue(dimension, ctx)
          const spec = forClass(rates, clientClass)
          if (!limit || !value || !spec) continue
          const first = await seenLimit(dimension, spec.windowMs).consume(`${value}|${domain}`)
          if (first.consumed !== 1) continue
          const result = await limit.consume(value)
          if (result.over) hits.push({ dimension, value, limit, result })
        }
      } catch (err) {
        return stateFault(err, state, false, 'RATE_FANOUT')
      }
      const hit = hits[0]
      if (!hit) return { kind: 'continue' }
      // A limit defers, it never refuses for good: reject is taken as tempfail.
      const configured = actionFor(entry.actions, clientClass)
      const action = configured.action === 'reject' ? ({ action: 'tempfail' } as const) : configured
      const retryMs = recordHits(hits, ctx, state, 'rcpt.fanout', modeOf(entry), action.action === 'tempfail')
      return hitVerdict(action, {
        flags: hits.map((h) => `RATE_FANOUT_${h.dimension.toUpperCase()}`),
        detail: hits.map((h) => hitDetail(h, 'recipient domains', clientClass)).join('; '),
        reply: () => fanoutLimited(whom(hit.dimension, hit.value), describeRate(hit.limit.spec), retryMs),
      })
    }
  },
})
