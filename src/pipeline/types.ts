import type { Logger } from 'pino'
import type { z } from 'zod'
import type { Credentials } from '../auth/credentials.js'
import type { InstanceConfig } from '../config/schema.js'
import type { InstanceState } from '../limits/instance-state.js'
import type { SmtpReply } from '../errors/smtp-reply.js'
import type { DnsCheckContext } from '../dns/check-context.js'
import type { Resolver } from '../dns/resolver.js'
import type { LocalDomains } from '../relay/local-domains.js'
import type { MessageData } from '../relay/message.js'
import type { Scanner } from '../scan/scanner.js'
import type { ScanSummary } from '../scan/summary.js'
import type { SessionRecord, TransactionRecord, RecipientRecord } from './record.js'

/** The SMTP stages checks run at, in session order (`tls`: once a TLS session is up, STARTTLS or implicit). */
export const STAGES = ['connect', 'tls', 'helo', 'auth', 'mail', 'rcpt', 'data'] as const
export type Stage = (typeof STAGES)[number]

/** Stages whose tags belong to the connection rather than to one transaction. */
export const SESSION_STAGES: ReadonlySet<Stage> = new Set(['connect', 'tls', 'helo', 'auth'])

/** A header field a check adds to the message relayed to the next hop. */
export interface HeaderField {
  readonly name: string
  readonly value: string
}

/**
 * One method's result for the Authentication-Results field the relay adds (RFC 8601 section
 * 2.2), e.g. `spf=pass smtp.mailfrom=alice@customer.test` or `dmarc=none header.from=x.test`.
 */
export interface AuthResult {
  /** The method: spf, dmarc, … */
  readonly method: string
  readonly result: string
  /** Written as a comment after the result: `(p=none)`. */
  readonly comment?: string
  /** ptype.property → value: `smtp.mailfrom`, `header.from`. */
  readonly props: Readonly<Record<string, string>>
}

/**
 * What a check decides. `continue` has no opinion; `accept` trusts the client and skips the
 * remaining non-core checks of this stage only; `tag` adds score and flags; `tempfail` and
 * `reject` end the stage with the reply (`offending`: the client broke a limit or is in the
 * penalty box, so its later refusals may be tarpitted); `quarantine` (data only) holds the message, telling
 * the client `description` (its `reason` when there is none).
 * Any verdict may add header fields (X-…) or method results for Authentication-Results to the
 * relayed message, and
 * may ask to move the client to another class (a dynamic-looking PTR: `residential-dynamic`).
 * A content scan's verdict carries its summary for the transaction record.
 */
export type Verdict = (
  | { kind: 'continue'; detail?: string }
  | { kind: 'accept'; detail: string; flags?: readonly string[] }
  | { kind: 'tag'; score: number; flags: readonly string[]; detail: string }
  | { kind: 'tempfail'; reply: SmtpReply; flags?: readonly string[]; detail?: string; offending?: true }
  | { kind: 'reject'; reply: SmtpReply; flags?: readonly string[]; detail?: string; offending?: true }
  | { kind: 'quarantine'; reason: string; description?: string; flags?: readonly string[]; detail?: string }
) & { headers?: readonly HeaderField[]; authResults?: readonly AuthResult[]; reclassify?: string; scan?: ScanSummary }

/** How a check ended, as recorded: a verdict kind, or `error` for a fault or timeout. */
export type Outcome = Verdict['kind'] | 'error'

/** One line of a record: what one check said about the session, transaction or recipient. */
export interface CheckResult {
  check: string
  stage: Stage
  outcome: Outcome
  /** True when the check runs in warn mode and its refusal was only logged. */
  warn?: true
  score?: number
  flags?: readonly string[]
  detail?: string
  reply?: string
  /** The recipient a rcpt-stage verdict was about. */
  rcpt?: string
  ms: number
}

/** The AUTH attempt seen by `auth` checks, after the password was verified. */
export interface AuthAttempt {
  username: string
  method: string
  success: boolean
}

/** What a check sees. Fields beyond `session` exist from the stage that fills them. */
export interface StageContext {
  readonly stage: Stage
  readonly session: Readonly<SessionRecord>
  readonly tx?: Readonly<TransactionRecord>
  /** The recipient being decided, at the rcpt stage. */
  readonly rcpt?: Readonly<RecipientRecord>
  /** The received message, at the data stage. */
  readonly message?: MessageData
  /** The AUTH attempt, at the auth stage. */
  readonly auth?: AuthAttempt
  readonly log: Logger
  /** Applies a verdict's `reclassify`: the session decides whether the new class takes effect. */
  readonly reclassify?: (clientClass: string, by: string) => void
  /** Runs `release` when the connection closes (a concurrency limit gives its slot back). */
  readonly onClose?: (release: () => Promise<void>) => void
}

/** Services a check may use; tests aim them at loopback servers. */
export interface CheckDeps {
  readonly resolver: Resolver
  /** DNS lists, egress addresses and our own names, for the DNS checks. */
  readonly dns: DnsCheckContext
  readonly log: Logger
  readonly now: () => number
  /** Shared state (limits, penalty box) of the instance; absent, limit checks use a private memory state. */
  readonly state?: InstanceState
  /** The instance's content scanner, bound to the rules of this policy (when it scans). */
  readonly scanner?: Scanner
  /** The instance's SMTP AUTH users (relay.credentials), for the senders the file maps to each. */
  readonly credentials?: Pick<Credentials, 'sendersOf'>
}

export type CheckFn = (ctx: StageContext) => Verdict | Promise<Verdict>

/** What a core check derives its configuration from: its instance's section and compiled lists. */
export interface CoreSource {
  readonly config: InstanceConfig
  readonly localDomains: LocalDomains
}

/** A check id: `<stage>.<name>` in lower_snake, e.g. `rcpt.relay_auth`. */
export type CheckId = `${Stage}.${string}`

/**
 * A check: a named unit that runs at one stage and returns a verdict.
 *
 * Policy checks declare `options` (a strict zod object) and are listed under an instance's
 * `checks:`. Core checks declare `core` instead: they derive their configuration from the
 * instance (relay networks, local domains, limits), always run first in their stage, cannot
 * be put in warn mode and are never skipped by an `accept`.
 */
export interface CheckDefinition<C = unknown> {
  readonly id: CheckId
  readonly stage: Stage
  /** One sentence for `explain-config`: what it checks and its verdicts. */
  readonly description: string
  readonly options?: z.ZodObject
  readonly core?: (instance: CoreSource) => C | undefined
  create(config: C, deps: CheckDeps): CheckFn
}

/** Declares a policy check whose options come from the policy tree. */
export function defineCheck<S extends z.ZodObject>(
  def: Omit<CheckDefinition<z.output<S>>, 'options' | 'core'> & { options: S },
): CheckDefinition<z.output<S>> {
  return def
}

/** Declares a core check whose configuration is derived from the instance. */
export function defineCoreCheck<C>(
  def: Omit<CheckDefinition<C>, 'options' | 'core'> & { core: (instance: CoreSource) => C | undefined },
): CheckDefinition<C> {
  return def
}
