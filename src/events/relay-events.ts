import type { SessionEvent, TransactionEvent } from './types.js'

/** A subscriber; it runs synchronously in the SMTP code's turn, so it must be quick and not throw. */
export type EventListener<E> = (event: E) => void

/**
 * The one stream of session and transaction events of a relay process. The SMTP code emits and
 * does not know who reads: the logger subscribes first, per-client statistics and alerting
 * next. An emitter asks `wantsSessions` / `wantsTransactions` before it builds an event, so an
 * event nobody reads costs nothing. A subscriber that throws is reported and does not stop the
 * others or the session.
 *
 * @example
 * const events = new RelayEvents((err) => log.error({ err }, 'event subscriber failed'))
 * const stop = events.onSession((e) => e.outcome === 'rejected' && count(e.session.client.address))
 */
export class RelayEvents {
  readonly #session: EventListener<SessionEvent>[] = []
  readonly #transaction: EventListener<TransactionEvent>[] = []
  readonly #onError: (err: unknown) => void
  #evidenceReaders = 0

  constructor(onError: (err: unknown) => void) {
    this.#onError = onError
  }

  get wantsSessions(): boolean {
    return this.#session.length > 0
  }

  get wantsTransactions(): boolean {
    return this.#transaction.length > 0
  }

  /**
   * Whether a transaction subscriber reads the message's subject and Message-ID (the record's
   * `evidence`); the SMTP code parses the header for them only then. Returns the release function.
   */
  wantEvidence(): () => void {
    this.#evidenceReaders++
    return () => void this.#evidenceReaders--
  }

  get wantsEvidence(): boolean {
    return this.#evidenceReaders > 0
  }

  /** Subscribes to session events; returns the unsubscribe function. */
  onSession(listener: EventListener<SessionEvent>): () => void {
    return subscribe(this.#session, listener)
  }

  /** Subscribes to transaction events; returns the unsubscribe function. */
  onTransaction(listener: EventListener<TransactionEvent>): () => void {
    return subscribe(this.#transaction, listener)
  }

  emitSession(event: SessionEvent): void {
    this.#emit(this.#session, event)
  }

  emitTransaction(event: TransactionEvent): void {
    this.#emit(this.#transaction, event)
  }

  #emit<E>(listeners: readonly EventListener<E>[], event: E): void {
    for (const listener of listeners) {
      try {
        listener(event)
      } catch (err) {
        this.#onError(err)
      }
    }
  }
}

function subscribe<E>(listeners: EventListener<E>[], listener: EventListener<E>): () => void {
  listeners.push(listener)
  return () => {
    const i = listeners.indexOf(listener)
    if (i !== -1) listeners.splice(i, 1)
  }
}
