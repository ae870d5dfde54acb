import { z } from 'zod'
import { limitStateUnavailable } from '../errors/replies.js'
import type { SmtpReply } from '../errors/smtp-reply.js'
import { subnetOf } from '../limits/dimensions.js'
import type { Dimension } from '../limits/dimensions.js'
import type { InstanceState } from '../limits/instance-state.js'
import { privateState } from '../limits/instance-state.js'
import type { Limit, LimitResult } from '../limits/limit.js'
import { isStateUnavailable } from '../limits/limit.js'
import { classRates, describeRate, forClass } from '../limits/rate-spec.js'
import type { RateSpec } from '../limits/rate-spec.js'
import { penaltyBoxSchema } from '../limits/schema.js'
import { limitHitsFor } from '../metrics/limit-metrics.js'
import type { CheckDeps, StageContext, Verdict } from '../pipeline/types.js'
import { splitAddress } from '../relay/address.js'

// What the limit checks share: the state from the deps, per-class limits, the value of a
// dimension for a session, hit accounting, and the answer to a state fault.

/** The instance's shared state, or a private memory one when none was given (check-config, unit tests). */
export function stateOf(deps: CheckDeps): InstanceState {
  return deps.state ?? privateState('unscoped', penaltyBoxSchema.parse(undefined), deps.log)
}

/**
 * The mode of a listed check's entry: the options a check's `create` receives are its whole
 * `checks:` entry, common fields included.
 */
export function modeOf(entry: object): 'enforce' | 'warn' {
  return (entry as { mode?: 'enforce' | 'warn' }).mode ?? 'enforce'
}

/** The Limit of each class for one check and dimension, made once per class. */
export class ClassLimits {
  readonly #cache = new Map<string, Limit | null>()

  constructor(
    readonly state: InstanceState,
    readonly check: string,
    readonly dimension: string,
    readonly rates: Readonly<Record<string, RateSpec | null>>,
  ) {}

  /** The limit of a class, or null when the class has none. */
  for(clientClass: string): Limit | null {
    let limit = this.#cache.get(clientClass)
    if (limit === undefined) {
      const spec = forClass(this.rates, clientClass)
      limit = spec ? this.state.limit(this.check, this.dimension, spec) : null
      this.#cache.set(clientClass, limit)
    }
    return limit
  }
}

/** The value a dimension counts for this session or transaction; null when it does not apply. */
export function dimensionValue(dimension: Dimension, ctx: StageContext): string | null {
  switch (dimension) {
    case 'address':
      return ctx.session.client.address
    case 'subnet':
      return subnetOf(ctx.session.client.address)
    case 'user':
      return ctx.session.user ?? (ctx.auth?.username || null)
    case 'sender_domain': {
      const from = ctx.tx?.mailFrom
      return from ? splitAddress(from).domain || null : null
    }
  }
}

/** "your address 192.0.2.7", "user alice": who a reply is about. */
export function whom(dimension: string, value: string): string {
  switch (dimension) {
    case 'address':
      return `your address ${value}`
    case 'subnet':
      return `your network ${value}`
    case 'user':
      return `user ${value}`
    case 'sender_domain':
      return `sender domain ${value}`
    default:
      return value
  }
}

const DIMENSION_TEXT: Record<Dimension, string> = {
  address: 'client address',
  subnet: '/24 (IPv4) or /64 (IPv6) subnet of the client',
  user: 'user (the authenticated user; for failed AUTH, the user name tried)',
  sender_domain: 'envelope sender domain',
}

/** Options schema of per-dimension, per-class rates: `{ address: {default: "10/1m"}, subnet: … }`. */
export function dimensionRates<D extends Dimension>(dimensions: readonly D[], what: string) {
  const shape = Object.fromEntries(
    dimensions.map((d) => [d, classRates().optional().describe(`${what} per ${DIMENSION_TEXT[d]}, per client class`)]),
  ) as Record<D, z.ZodOptional<ReturnType<typeof classRates>>>
  return z
    .strictObject(shape)
    .refine((l) => Object.values(l).some((v) => v !== undefined), { message: `give at least one of ${dimensions.join(', ')}` })
    .describe(`Limits by dimension (${dimensions.join(', ')}), each a map of client class to rate`)
}

/** One dimension found over its limit. */
export interface Hit {
  dimension: string
  value: string
  limit: Limit
  result: Extract<LimitResult, { over: true }>
}

/**
 * Counts hits in smarthost_limit_hits_total and, when they refuse the client (enforce mode),
 * feeds the penalty box rules. Returns the longest wait of the hits, for the retry hint.
 */
export function recordHits(
  hits: readonly Hit[],
  ctx: StageContext,
  state: InstanceState,
  check: string,
  mode: string,
  refuses = true,
): number {
  for (const h of hits) limitHitsFor(state.instance, check, h.dimension, ctx.session.clientClass, mode).inc()
  if (refuses && mode === 'enforce' && hits.length) state.hit(check, ctx.session)
  return Math.max(...hits.map((h) => h.result.retryMs))
}

/** "3 messages from your address 192.0.2.7 (limit 10 per 1m for class residential-dynamic)" */
export function hitDetail(h: Hit, what: string, clientClass: string): string {
  return `${h.result.consumed} ${what} from ${whom(h.dimension, h.value)} (limit ${describeRate(h.limit.spec)} for class ${clientClass})`
}

/**
 * A state fault: with on_failure tempfail the client is deferred (421/451 4.3.0, not our
 * 5xx); otherwise it is thrown on to the runner's on_error.
 */
export function stateFault(err: unknown, state: InstanceState, atConnect: boolean, flag: string): Verdict {
  if (isStateUnavailable(err) && state.backend.onFailure === 'tempfail') {
    const reply: SmtpReply = limitStateUnavailable(atConnect)
    return { kind: 'tempfail', reply, flags: [`${flag}_ERROR`], detail: err.message }
  }
  throw err
}
