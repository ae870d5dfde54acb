import type { Logger } from 'pino'
import type { SessionRecord } from '../pipeline/record.js'
import type { StateBackend } from './backend.js'
import { MemoryBackend } from './backend.js'
import type { KnownLogins } from './known-logins.js'
import { Limit } from './limit.js'
import { PenaltyBox } from './penalty-box.js'
import { PenaltyRules } from './penalty-rules.js'
import type { RateSpec } from './rate-spec.js'
import type { PenaltyBoxConfig } from './schema.js'

/**
 * The shared state as one instance's checks see it: limits on the backend, the instance's
 * penalty box and its rules. Built with each compiled policy; the backend (counters, box
 * entries) outlives it across reloads.
 */
export class InstanceState {
  readonly instance: string
  readonly backend: StateBackend
  readonly penaltyBox: PenaltyBox
  /** The addresses each user logged in from (auth.failures). */
  readonly knownLogins: KnownLogins
  readonly #rules: PenaltyRules
  readonly #log: Logger

  constructor(backend: StateBackend, opts: { instance: string; penaltyBox: PenaltyBoxConfig; log: Logger }) {
    this.instance = opts.instance
    this.backend = backend
    this.#log = opts.log
    this.penaltyBox = new PenaltyBox(backend.penaltyStore(opts.instance, opts.penaltyBox.max_entries), {
      instance: opts.instance,
      defaultDurationMs: opts.penaltyBox.default_duration,
      log: opts.log,
    })
    this.knownLogins = backend.knownLogins(opts.instance)
    this.#rules = new PenaltyRules(opts.penaltyBox.rules, {
      limit: (check, dimension, spec) => this.limit(check, dimension, spec),
      box: this.penaltyBox,
      log: opts.log,
    })
  }

  /** A limit of `check` per `dimension` with the given rate. */
  limit(check: string, dimension: string, spec: RateSpec): Limit {
    return new Limit(this.backend, { instance: this.instance, check, dimension }, spec)
  }

  /** An enforced limit refused this client: the penalty box rules count it (in the background). */
  hit(check: string, session: Readonly<SessionRecord>): void {
    this.#rules.hit(check, session).catch((err: unknown) => this.#log.warn({ err, check }, 'penalty box rule failed'))
  }
}

let fallback: MemoryBackend | null = null

/**
 * A private in-memory state for code that compiles a policy without a running relay
 * (check-config, unit tests): limits work, nothing is shared.
 */
export function privateState(instance: string, penaltyBox: PenaltyBoxConfig, log: Logger): InstanceState {
  fallback ??= new MemoryBackend(10_000)
  return new InstanceState(fallback, { instance, penaltyBox, log })
}
