import type { SessionRecord, TransactionRecord } from '../pipeline/record.js'

/** A reply as the client got it (an SmtpReply fits), without the operator's URL. */
export interface EventReply {
  readonly code: number
  readonly enhanced: string
  readonly text: string
  /** Short kebab-case token of the refusal (`relay-denied`, `penalty-box`, `next-hop`, …). */
  readonly reason: string
}

/** Where in the session a session outcome was decided; `close` is the end of the connection. */
export type SessionEventStage = 'connect' | 'tls' | 'helo' | 'auth' | 'close'

/** What became of the session at that stage. */
export type SessionOutcome = 'rejected' | 'tempfailed' | 'authenticated' | 'disconnected'

/**
 * Why a connection ended: the client said QUIT, went idle, made too many errors, the listener
 * drained, it was refused at connect, the relay closed it with another 421, or it just went away.
 */
export type DisconnectReason = 'quit' | 'timeout' | 'errors' | 'drain' | 'refused' | 'closed' | 'lost'

/**
 * One session outcome: a refusal before MAIL (connect, TLS, HELO, AUTH), an authentication,
 * or the end of the connection. The client (address, port, PTR), instance, listener, class and
 * user are those of `session` at that moment. The records are the live ones, not copies: a
 * subscriber reads them during the call and copies what it keeps.
 */
export interface SessionEvent {
  readonly type: 'session'
  /** Epoch ms. */
  readonly time: number
  readonly session: SessionRecord
  readonly stage: SessionEventStage
  readonly outcome: SessionOutcome
  /** The check that refused (`connect.penalty_box`), or null when the listener or the library did. */
  readonly check: string | null
  readonly reply: EventReply | null
  /** For `disconnected` only. */
  readonly reason: DisconnectReason | null
  /** For `auth`: the user name the client gave (the session's `user` is set only on success). */
  readonly user: string | null
  /** The session is past smtp.logged_refusals: subscribers count it, the log writes no line. */
  readonly quiet?: boolean
}

/** One finished transaction (MAIL … DATA, RSET or the end of the session), with its record. */
export interface TransactionEvent {
  readonly type: 'transaction'
  /** Epoch ms. */
  readonly time: number
  readonly session: SessionRecord
  readonly tx: TransactionRecord
  /** The check that refused, or null (delivered, or refused by the next hop or the library). */
  readonly check: string | null
  readonly reply: EventReply | null
  /** The session is past smtp.logged_refusals: subscribers count it, the log writes no line. */
  readonly quiet?: boolean
}

export type RelayEvent = SessionEvent | TransactionEvent
