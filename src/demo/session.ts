import { CLOSED, SmtpClient } from './smtp-client.js'
import type { Reply } from './smtp-client.js'

/** Where in the dialogue a message was answered. */
export type Step = 'connect' | 'ehlo' | 'starttls' | 'auth' | 'mail' | 'rcpt' | 'data'

/** What became of one message (or of the session that was to carry it). */
export interface Outcome {
  accepted: boolean
  step: Step
  reply: Reply
}

/** How a customer opens its sessions. */
export interface SessionOptions {
  port: number
  from: string
  helo: string
  /** STARTTLS after EHLO, then EHLO again (what a mail client or server does on 587 and 25). */
  tls?: boolean
  auth?: { user: string; password: string }
  /** Send EHLO at once, before the greeting (a spam bot's hurry; RFC 5321 section 4.3.1 says wait). */
  earlyTalk?: boolean
}

/** An open session, or the outcome that ended it before any message. */
export type Opened = { client: SmtpClient; failed: null } | { client: null; failed: Outcome }

const refused = (step: Step, reply: Reply): Opened => ({ client: null, failed: { accepted: false, step, reply } })

/** AUTH PLAIN's initial response (RFC 4616). */
export const plainAuth = (user: string, password: string): string => `AUTH PLAIN ${Buffer.from(`\0${user}\0${password}`).toString('base64')}`

/** Connects, greets, upgrades and logs in as the options say; the first refusal ends it. */
export async function openSession(o: SessionOptions): Promise<Opened> {
  const client = await SmtpClient.connect(o.port, o.from)
  if (!client) return refused('connect', CLOSED)
  const fail = (step: Step, reply: Reply): Opened => {
    void client.quit()
    return refused(step, reply)
  }
  if (o.earlyTalk) client.write(`EHLO ${o.helo}\r\n`)
  const greeting = await client.read()
  if (greeting.code !== 220) return fail('connect', greeting)
  let ehlo = o.earlyTalk ? await client.read() : await client.cmd(`EHLO ${o.helo}`)
  if (ehlo.code !== 250) return fail('ehlo', ehlo)
  if (o.tls) {
    const started = await client.starttls('relay.example.net')
    if (started.code !== 220) return fail('starttls', started)
    ehlo = await client.cmd(`EHLO ${o.helo}`)
    if (ehlo.code !== 250) return fail('ehlo', ehlo)
  }
  if (o.auth) {
    const r = await client.cmd(plainAuth(o.auth.user, o.auth.password))
    if (r.code !== 235) return fail('auth', r)
  }
  return { client, failed: null }
}

/** RFC 5321 section 4.5.2: a line that starts with a dot gets one more. */
const dotStuffed = (data: string) => data.replace(/\r\n\./g, '\r\n..').replace(/^\./, '..')

/**
 * One transaction: MAIL, RCPT for each recipient, DATA. Accepted when the message got 250
 * (for the recipients the relay took); a transaction refused before DATA is reset, so the
 * session can go on.
 */
export async function sendMessage(client: SmtpClient, m: { sender: string; recipients: readonly string[]; data: string }): Promise<Outcome> {
  const reset = async (step: Step, reply: Reply): Promise<Outcome> => {
    if (!client.closed && reply.code !== 421) {
      // A relay that has had enough (hard_error_limit) answers the RSET with 421 and hangs up:
      // closed here, so the customer reconnects instead of talking to a dead socket.
      const r = await client.cmd('RSET')
      if (r.code !== 250) client.close()
    }
    return { accepted: false, step, reply }
  }
  const mail = await client.cmd(`MAIL FROM:<${m.sender}>`)
  if (mail.code !== 250) return reset('mail', mail)
  let firstRefusal: Reply | null = null
  let taken = 0
  for (const r of m.recipients) {
    const reply = await client.cmd(`RCPT TO:<${r}>`)
    if (reply.code === 250 || reply.code === 251) taken++
    else firstRefusal ??= reply
    if (reply.code === 421 || reply.code === 0) return { accepted: false, step: 'rcpt', reply }
  }
  if (taken === 0) return reset('rcpt', firstRefusal ?? CLOSED)
  const go = await client.cmd('DATA')
  if (go.code !== 354) return reset('data', go)
  const body = dotStuffed(m.data.endsWith('\r\n') ? m.data : `${m.data}\r\n`)
  const end = await client.cmd(`${body}.\r\n`)
  return { accepted: end.code === 250, step: 'data', reply: end }
}
