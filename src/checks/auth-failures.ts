import { z } from 'zod'
import { authLocked } from '../errors/replies.js'
import { defineCheck } from '../pipeline/types.js'
import { dimensionRate } from './dimension-rate.js'
import { dimensionRates, whom } from './limit-common.js'

const DIMENSIONS = ['address', 'user'] as const
const NO_AUTH = { kind: 'continue' } as const

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
  create: dimensionRate({
    check: 'auth.failures',
    unit: 'failed AUTH attempts',
    flag: 'AUTH_FAILURES',
    dimensions: DIMENSIONS,
    reply: (hit, retryMs) => authLocked(whom(hit.dimension, hit.value), retryMs),
    skip: (ctx) => (ctx.auth ? null : NO_AUTH),
    // A failure counts; a success only looks whether a lockout is running.
    peek: (ctx) => ctx.auth?.success === true,
  }),
})
