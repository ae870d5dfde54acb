import { z } from 'zod'
import { clientConnectionLimit, connectionRateLimited, tlsRateLimited } from '../errors/replies.js'
import type { Limit } from '../limits/limit.js'
import { classCounts, classRates, describeRate, forClass, windowMs } from '../limits/rate-spec.js'
import type { RateSpec } from '../limits/rate-spec.js'
import type { CheckDeps, CheckFn } from '../pipeline/types.js'
import { defineCheck } from '../pipeline/types.js'
import { dimensionRate } from './dimension-rate.js'
import type { DimensionRate } from './dimension-rate.js'
import { modeOf, recordHits, stateFault, stateOf } from './limit-common.js'

// Connection-level limits in the spirit of Postfix anvil: connections at once, connection
// rate and new TLS session rate, per client address and client class. Each refuses with 421,
// which closes the connection.

/**
 * connect.concurrency: connections open at once from one address (Postfix
 * smtpd_client_connection_count_limit). The slot is given back when the connection closes.
 * Verdicts: tempfail 421 4.7.0; continue.
 */
export const connectionConcurrency = defineCheck({
  id: 'connect.concurrency',
  stage: 'connect',
  description: 'Connections at once per client address, per client class: 421 4.7.0 over it.',
  options: z.strictObject({
    limits: classCounts('Connections at once from one address'),
    ttl: windowMs()
      .prefault('10m')
      .describe('Longest a connection is counted: bounds what a node that died with connections open leaves behind'),
  }),
  create: (entry, deps) => {
    const state = stateOf(deps)
    const perClass = new Map<string, Limit | null>()
    const limitOf = (clientClass: string): Limit | null => {
      if (!perClass.has(clientClass)) {
        const max = forClass(entry.limits, clientClass)
        perClass.set(clientClass, max === null ? null : state.limit('connect.concurrency', 'address', { points: max, windowMs: entry.ttl }))
      }
      return perClass.get(clientClass) ?? null
    }
    return async function concurrency(ctx) {
      const limit = limitOf(ctx.session.clientClass)
      if (!limit) return { kind: 'continue' }
      const address = ctx.session.client.address
      let result
      try {
        result = await limit.consume(address)
      } catch (err) {
        return stateFault(err, state, true, 'LIMIT_CONCURRENCY')
      }
      ctx.onClose?.(() => limit.release(address))
      if (!result.over) return { kind: 'continue' }
      recordHits([{ dimension: 'address', value: address, limit, result }], ctx, state, 'connect.concurrency', modeOf(entry))
      return {
        kind: 'tempfail',
        offending: true,
        reply: clientConnectionLimit(limit.spec.points),
        flags: ['LIMIT_CONCURRENCY'],
        detail: `${result.consumed} connections open from ${address} (limit ${limit.spec.points} for class ${ctx.session.clientClass})`,
      }
    }
  },
})

/** A per-address rate at connect or TLS time, answered with 421 (which closes the connection). */
function addressRate(rate: Pick<DimensionRate, 'check' | 'flag' | 'unit' | 'reply' | 'skip'>) {
  const counted = dimensionRate({ ...rate, dimensions: ['address'], flagDimension: false, atConnect: true })
  return (entry: { limits: Readonly<Record<string, RateSpec | null>> }, deps: CheckDeps): CheckFn =>
    counted({ ...entry, limits: { address: entry.limits } }, deps)
}

const RESUMED = { kind: 'continue', detail: 'resumed TLS session' } as const

/**
 * connect.rate: new connections per address and window (Postfix
 * smtpd_client_connection_rate_limit). Verdicts: tempfail 421 4.7.0 with when to retry; continue.
 */
export const connectionRate = defineCheck({
  id: 'connect.rate',
  stage: 'connect',
  description: 'Connection rate per client address, per client class: 421 4.7.0 over it.',
  options: z.strictObject({ limits: classRates() }),
  create: addressRate({
    check: 'connect.rate',
    flag: 'RATE_CONNECTION',
    unit: 'connections',
    reply: (hit, retryMs) => connectionRateLimited(describeRate(hit.limit.spec), retryMs),
  }),
})

/**
 * tls.rate: new (not resumed) TLS sessions per address and window (Postfix
 * smtpd_client_new_tls_session_rate_limit): a TLS handshake costs the server far more than
 * it costs a bot. Verdicts: tempfail 421 4.7.0 with when to retry; continue.
 */
export const tlsSessionRate = defineCheck({
  id: 'tls.rate',
  stage: 'tls',
  description: 'New (not resumed) TLS session rate per client address, per client class: 421 4.7.0 over it.',
  options: z.strictObject({ limits: classRates() }),
  create: addressRate({
    check: 'tls.rate',
    flag: 'RATE_TLS_SESSION',
    unit: 'new TLS sessions',
    reply: (hit, retryMs) => tlsRateLimited(describeRate(hit.limit.spec), retryMs),
    skip: (ctx) => (ctx.session.tls?.resumed ? RESUMED : null),
  }),
})
