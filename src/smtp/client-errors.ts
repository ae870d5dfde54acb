import type { SmtpConfig } from '../config/schema.js'
import { authFailed, authSessionLimit, tooManyErrors } from '../errors/replies.js'
import type { SmtpReply } from '../errors/smtp-reply.js'

/**
 * Our own temporary faults (RFC 3463 X.3.x mail system, X.4.x network and routing: next hop
 * down, DNS timeout, local error): not the client's mistake, so they do not count against it.
 */
const OUR_FAULT = /^4\.[34]\.\d{1,3} /

/**
 * What one session's client got wrong, against the `smtp.*` limits: refused commands (Postfix's
 * smtpd_hard_error_limit, reset by a relayed message as in Postfix), failed AUTH, and the
 * refusal log lines it may cause, so that a hostile client can neither guess passwords on one
 * connection nor fill the log.
 */
export class ClientErrors {
  readonly #config: SmtpConfig
  #errors = 0
  #authFailures = 0
  #logged = 0
  #unlogged = 0

  constructor(config: SmtpConfig) {
    this.#config = config
  }

  /** Refusals counted towards the hard error limit so far. */
  get errors(): number {
    return this.#errors
  }

  /** Refusal log lines left out over `logged_refusals`. */
  get unlogged(): number {
    return this.#unlogged
  }

  /**
   * Counts a reply sent to the client. When it is the refusal that reaches the limit, returns
   * the 421 4.7.0 that answers the client's next command and ends the session (as in Postfix).
   * A 421 closes by itself and is not counted.
   */
  replied(code: number, text: string): SmtpReply | null {
    if (code < 400 || code === 421 || OUR_FAULT.test(text)) return null
    this.#errors++
    return this.#errors === this.#config.hard_error_limit ? tooManyErrors(this.#config.hard_error_limit) : null
  }

  /** A message was relayed: the client is sending mail, not probing (Postfix resets its count too). */
  delivered(): void {
    this.#errors = 0
  }

  /** A failed AUTH: 535 5.7.8, or 421 4.7.0 (and close) at `auth_failure_limit` failures in the session. */
  authFailed(): SmtpReply {
    this.#authFailures++
    const limit = this.#config.auth_failure_limit
    return this.#authFailures >= limit ? authSessionLimit(limit) : authFailed()
  }

  /** Whether a refusal may still be logged in this session; counts it either way. */
  logRefusal(): boolean {
    if (this.#logged < this.#config.logged_refusals) {
      this.#logged++
      return true
    }
    this.#unlogged++
    return false
  }
}
