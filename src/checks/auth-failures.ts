import { z } from 'zod'
import { classEntry } from '../classes/per-class.js'
import { className } from '../classes/schema.js'
import { duration } from '../config/units.js'
import { authLocked, authNewAddressRefused } from '../errors/replies.js'
import type { KnownLogin, KnownLoginBounds } from '../limits/known-logins.js'
import type { StageContext, Verdict } from '../pipeline/types.js'
import { defineCheck } from '../pipeline/types.js'
import { dimensionRate } from './dimension-rate.js'
import { dimensionRates, modeOf, stateOf, whom } from './limit-common.js'

const DIMENSIONS = ['address', 'user'] as const
const NO_AUTH = { kind: 'continue' } as const

/**
 * A successful login from an address the user never logged in from (nor from its network, unless
 * the class's while_attacked is known_addresses): what the cracked-account alerts read.
 */
export const AUTH_NEW_ADDRESS = 'AUTH_NEW_ADDRESS'

/** Who may still log in to an account while its `user` limit is over. */
const WHILE_ATTACKED = ['known_networks', 'known_addresses', 'lock_out'] as const
type WhileAttacked = (typeof WHILE_ATTACKED)[number]

const knownLoginsOptions = z
  .strictObject({
    while_attacked: z
      .record(className(), z.enum(WHILE_ATTACKED))
      .prefault({ default: 'known_networks' })
      .describe(
        'While the user limit is over (the account is being guessed), per client class: known_networks lets the account in from addresses and /24 (/64) networks it logged in from before, known_addresses only from those addresses, lock_out refuses every login (454 4.7.0)',
      ),
    remember: duration()
      .prefault('30d')
      .refine((ms) => ms >= 60_000, 'must be at least 1m')
      .describe('How long after its last login an address (and its network) stays known to the account'),
    per_user: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .default(20)
      .describe('Most addresses (and as many networks) kept per user; the least recently used go first'),
  })
  .prefault({})
  .describe('The addresses each user logged in from successfully (memory, or Redis shared by every node), and who gets in while the account is under attack')

/**
 * auth.failures: failed AUTH attempts per client address and per user name tried (brute
 * force, Postfix smtpd_client_auth_rate_limit). Over the address limit the client is locked
 * out until the window ends, even with the right password. Over the user limit the account is
 * under attack: it may log in only from the addresses (or networks) it logged in from before,
 * so the guessers are stopped and the owner keeps working. Every successful login is
 * remembered; one from a new address (one that would not get in during an attack) is tagged
 * AUTH_NEW_ADDRESS (score 0).
 * Verdicts: tempfail 454 4.7.0; tag AUTH_NEW_ADDRESS; continue.
 */
export const authFailures = defineCheck({
  id: 'auth.failures',
  stage: 'auth',
  description:
    'Failed AUTH rate per client address and per user name: 454 4.7.0 over it; while the user limit is over, only addresses the account logged in from before get in.',
  options: z.strictObject({
    limits: dimensionRates([...DIMENSIONS], 'Failed AUTH attempts'),
    known_logins: knownLoginsOptions,
  }),
  create: (entry, deps) => {
    const logins = stateOf(deps).knownLogins
    const bounds: KnownLoginBounds = { rememberMs: entry.known_logins.remember, perUser: entry.known_logins.per_user }
    // One lookup per AUTH, shared by the lockout decision and the tag.
    const looked = new WeakMap<StageContext, Promise<KnownLogin>>()
    const knownOf = (ctx: StageContext, user: string) => {
      let known = looked.get(ctx)
      if (!known) looked.set(ctx, (known = logins.lookup(user, ctx.session.client.address, bounds)))
      return known
    }
    const policy = (ctx: StageContext): WhileAttacked => classEntry(entry.known_logins.while_attacked, ctx.session.clientClass) ?? 'known_networks'
    const rate = dimensionRate({
      check: 'auth.failures',
      unit: 'failed AUTH attempts',
      flag: 'AUTH_FAILURES',
      dimensions: DIMENSIONS,
      reply: (hit, retryMs, ctx) =>
        // A right password from a new address learns why; a wrong one, from anywhere, only that it is locked.
        hit.dimension === 'user' && ctx.auth?.success === true && policy(ctx) !== 'lock_out'
          ? authNewAddressRefused(hit.value, ctx.session.client.address, retryMs)
          : authLocked(whom(hit.dimension, hit.value), retryMs),
      skip: (ctx) => (ctx.auth ? null : NO_AUTH),
      // A failure counts; a success only looks whether a lockout is running.
      peek: (ctx) => ctx.auth?.success === true,
      forgive: async (hits, ctx) => {
        const mode = policy(ctx)
        const user = hits.find((h) => h.dimension === 'user')
        // Only a right password is let through; a failure from a known address counts as any other.
        if (!user || mode === 'lock_out' || !ctx.auth?.success) return hits
        let known: KnownLogin
        try {
          known = await knownOf(ctx, user.value)
        } catch (err) {
          // Unreadable: the account stays locked, as without known logins (454, nothing lost).
          ctx.log.warn({ err, user: user.value }, 'known logins unreadable: the account stays locked while under attack')
          return hits
        }
        return known.address || (mode === 'known_networks' && known.network) ? hits.filter((h) => h !== user) : hits
      },
    })(entry, deps)
    return async function authFailuresCheck(ctx): Promise<Verdict> {
      const verdict = await rate(ctx)
      const auth = ctx.auth
      // In warn mode a would-be refusal lets the login in: it is remembered too.
      const refused = verdict.kind !== 'continue'
      if (!auth?.success || (refused && modeOf(entry) !== 'warn')) return verdict
      let known: KnownLogin
      try {
        known = await knownOf(ctx, auth.username)
        await logins.record(auth.username, ctx.session.client.address, bounds)
      } catch (err) {
        ctx.log.warn({ err, user: auth.username }, 'known logins unavailable: this login is not remembered')
        return verdict
      }
      if (refused) return verdict
      // Known is what would get in during an attack: with known_addresses, the address only.
      // With a detail, so the record (and the alerting reading it) shows the login was looked up.
      if (known.address || (known.network && policy(ctx) !== 'known_addresses')) {
        return { kind: 'continue', detail: `login of ${auth.username} from a known ${known.address ? 'address' : 'network'}` }
      }
      return { kind: 'tag', score: 0, flags: [AUTH_NEW_ADDRESS], detail: `first login of ${auth.username} from ${ctx.session.client.address}` }
    }
  },
})
