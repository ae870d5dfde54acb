import { z } from 'zod'
import { authLocked } from '../errors/replies.js'
import { defineCheck } from '../pipeline/types.js'
import type { Hit } from './limit-common.js'
import { ClassLimits, dimensionRates, hitDetail, modeOf, recordHits, stateFault, stateOf, whom } from './limit-common.js'

const DIMENSIONS = ['address', 'user'] as const

/**
 * auth.failures: failed AUTH attempts per client address and per user name tried (brute
 * force, Postfix smtpd_client_auth_rate_limit). Once over the limit the client is locked out
 * until the window ends: further attempts, even with the right password, get 454 4.7.0, so
 * guessing cannot succeed during the lockout. Verdicts: tempfail 454 4.7.0; continue.
 */
export const authFailures = defineCheck({
  id: 'auth.failures',
  stage: 'auth',
  description: 'Failed AUTH rate per client address and per user name: 454 4.7.0 lockout over it, even for a right password.',
  options: z.strictObject({ limits: dimensionRates([...DIMENSIONS], 'Failed AUTH attempts') }),
  create: (entry, deps) => {
    const state = stateOf(deps)
    const dims = DIMENSIONS.flatMap((d) => {
      const rates = entry.limits[d]
      return rates ? [{ dimension: d, limits: new ClassLimits(state, 'auth.failures', d, rates) }] : []
    })
    return async function authFailureRate(ctx) {
      const auth = ctx.auth
      if (!auth) return { kind: 'continue' }
      const clientClass = ctx.session.clientClass
      const counted = dims.flatMap(({ dimension, limits }) => {
        const limit = limits.for(clientClass)
        const value = dimension === 'address' ? ctx.session.client.address : auth.username
        return limit && value ? [{ dimension, value, limit }] : []
      })
      let results
      try {
        // A failure counts; a success only looks whether a lockout is running.
        results = await Promise.all(counted.map((c) => (auth.success ? c.limit.peek(c.value) : c.limit.consume(c.value))))
      } catch (err) {
        return stateFault(err, state, false, 'AUTH_FAILURES')
      }
      const hits: Hit[] = counted.flatMap((c, i) => {
        const result = results[i]
        return result?.over ? [{ ...c, result }] : []
      })
      const hit = hits[0]
      if (!hit) return { kind: 'continue' }
      const retryMs = recordHits(hits, ctx, state, 'auth.failures', modeOf(entry))
      return {
        kind: 'tempfail',
        reply: authLocked(whom(hit.dimension, hit.value), retryMs),
        flags: hits.map((h) => `AUTH_FAILURES_${h.dimension.toUpperCase()}`),
        detail: hits.map((h) => hitDetail(h, 'failed AUTH attempts', clientClass)).join('; '),
      }
    }
  },
})
