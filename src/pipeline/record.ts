import type { ScanSummary } from '../scan/summary.js'
import type { AuthResult, CheckResult, HeaderField } from './types.js'

/** What we know about one connection. Plain JSON: it is logged and becomes ticket evidence. */
export interface SessionRecord {
  id: string
  instance: string
  listener: string
  client: { address: string; port: number; ptr: string | null }
  server: { address: string; port: number }
  helo: string | null
  /** `resumed`: the client resumed an earlier TLS session (no new handshake). */
  tls: { protocol: string; cipher: string; resumed?: boolean } | null
  user: string | null
  /** The client address is in the instance's relay networks. */
  relayClient: boolean
  /** The policy class of the client (e.g. `residential-dynamic`); `unknown` until classified. */
  clientClass: string
  /** What set the class: `default`, or the rule or check that did. */
  classBy: string
  score: number
  flags: string[]
  checks: CheckResult[]
  /** Header fields checks of the connection stages add to every message of the session. */
  headers: HeaderField[]
  /** Method results (Authentication-Results) of the connection stages' checks. */
  authResults?: AuthResult[]
  startedAt: number
  transactions: number
}

/** One recipient of a transaction and what became of it. */
export interface RecipientRecord {
  address: string
  /** Recipient domain, lower case, Unicode form; empty for the domainless `postmaster`. */
  domain: string
  local: boolean
  accepted: boolean
  reply?: string
}

export type TransactionOutcome = 'delivered' | 'rejected' | 'tempfailed' | 'quarantined' | 'aborted'

/** One MAIL … DATA (or RSET) transaction. */
export interface TransactionRecord {
  id: string
  session: string
  mailFrom: string
  /** MAIL FROM parameters (SIZE, BODY, SMTPUTF8, RET, ENVID). */
  params: Record<string, string | boolean>
  rcpts: RecipientRecord[]
  size: number | null
  score: number
  flags: string[]
  checks: CheckResult[]
  /** Header fields checks add to this message. */
  headers: HeaderField[]
  /** Method results checks add to this message's Authentication-Results. */
  authResults?: AuthResult[]
  /** A tempfail was given in this transaction; a score may then not turn into a reject. */
  tempfailed: boolean
  /** A check asked to quarantine the message; applied at the end of DATA. */
  quarantine: string | null
  /** The content scan of the message: objects, flags, rule hits, decision, duration. */
  scan?: ScanSummary
  nextHop: { host: string; reply: string; ms: number; attempts: NextHopAttempt[] } | null
  reply: string | null
  /** Subject and Message-ID of the message, for the per-client statistics' samples (not logged). */
  evidence: { subject: string | null; messageId: string | null } | null
  outcome: TransactionOutcome | null
  timings: { start: number; data: number | null; end: number | null }
}

/** One delivery attempt to one next hop. */
export interface NextHopAttempt {
  host: string
  reply: string
  ms: number
}

/** A new transaction record, before any check has run. */
export function newTransactionRecord(
  fields: Pick<TransactionRecord, 'id' | 'session' | 'mailFrom' | 'params'> & { rcpts?: RecipientRecord[]; now?: number },
): TransactionRecord {
  const now = fields.now ?? Date.now()
  return {
    id: fields.id,
    session: fields.session,
    mailFrom: fields.mailFrom,
    params: fields.params,
    rcpts: fields.rcpts ?? [],
    size: null,
    score: 0,
    flags: [],
    checks: [],
    headers: [],
    tempfailed: false,
    quarantine: null,
    nextHop: null,
    reply: null,
    evidence: null,
    outcome: null,
    timings: { start: now, data: null, end: null },
  }
}
