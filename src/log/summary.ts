import type { EventReply, SessionEvent, SessionOutcome, TransactionEvent } from '../events/types.js'
import type { SessionRecord, TransactionOutcome } from '../pipeline/record.js'

const TX_STATUS: Record<TransactionOutcome, string> = {
  delivered: 'sent',
  rejected: 'reject',
  tempfailed: 'deferred',
  quarantined: 'quarantined',
  aborted: 'aborted',
}

const SESSION_STATUS: Record<SessionOutcome, string> = {
  rejected: 'reject',
  tempfailed: 'deferred',
  authenticated: 'authenticated',
  disconnected: 'disconnect',
}

/**
 * The one-line summary of a transaction, in the spirit of Postfix's maillog:
 * "outbound/submission ID: client=ptr[addr]:port, session=SID, helo=<..>, user=.., class=..,
 * from=<..>, to=<..>, size=N, score=N, flags=.., check=.., relay=.., delay=S, status=… (reply)".
 */
export function transactionSummary({ session, tx, check, reply }: TransactionEvent): string {
  let s = `${head(session, tx.id)}, session=${session.id}, helo=<${session.helo ?? ''}>`
  if (session.user) s += `, user=${session.user}`
  if (session.clientClass !== 'unknown') s += `, class=${session.clientClass}`
  s += `, from=<${tx.mailFrom}>`
  if (tx.rcpts.length) {
    s += ', to='
    for (let i = 0; i < tx.rcpts.length; i++) {
      const r = tx.rcpts[i]
      if (r) s += `${i ? ',' : ''}<${r.address}>${r.accepted ? '' : '!'}`
    }
  }
  if (tx.size !== null) s += `, size=${tx.size}`
  const score = session.score + tx.score
  if (score) s += `, score=${Math.round(score * 100) / 100}`
  if (session.flags.length || tx.flags.length) s += `, flags=${[...session.flags, ...tx.flags].join(',')}`
  if (check) s += `, check=${check}`
  if (tx.nextHop) s += `, relay=${tx.nextHop.host}`
  if (tx.timings.end) s += `, delay=${((tx.timings.end - tx.timings.start) / 1000).toFixed(3)}`
  return `${s}, status=${TX_STATUS[tx.outcome ?? 'aborted']}${replyText(reply)}`
}

/**
 * The one-line summary of a session outcome:
 * "outbound/submission SID: client=ptr[addr]:port, class=.., helo=<..>, user=.., stage=connect,
 * check=connect.penalty_box, status=reject (554 5.7.1 …)"; at the end of the connection
 * "…, transactions=N, duration=S, reason=quit, status=disconnect".
 */
export function sessionSummary(e: SessionEvent): string {
  const { session } = e
  let s = head(session, session.id)
  if (session.clientClass !== 'unknown') s += `, class=${session.clientClass}`
  if (session.helo !== null) s += `, helo=<${session.helo}>`
  const user = e.user ?? session.user
  if (user !== null) s += `, user=${user}`
  if (e.stage === 'close') {
    s += `, transactions=${session.transactions}, duration=${((e.time - session.startedAt) / 1000).toFixed(3)}, reason=${e.reason ?? 'lost'}`
  } else {
    s += `, stage=${e.stage}`
  }
  if (e.check) s += `, check=${e.check}`
  return `${s}, status=${SESSION_STATUS[e.outcome]}${replyText(e.reply)}`
}

/** A reply as the client saw it: "550 5.7.1 text". */
export function replyLine(reply: EventReply): string {
  return `${reply.code} ${reply.enhanced} ${reply.text}`
}

function head(session: SessionRecord, id: string): string {
  const c = session.client
  return `${session.instance}/${session.listener} ${id}: client=${c.ptr ?? 'unknown'}[${c.address}]:${c.port}`
}

function replyText(reply: EventReply | null): string {
  return reply ? ` (${replyLine(reply)})` : ''
}
