import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { SMTPServer } from 'smtp-server'
import { SmtpReply } from '../../src/errors/smtp-reply.js'
import { testCertificate } from './tls.js'

/** A message as the sink received it. */
export interface SunkMessage {
  from: string
  to: string[]
  raw: Buffer
  text: string
  /** Header block of the message, unfolded lines. */
  headers: string[]
  /** The message came over TLS. */
  secure: boolean
  /** The user the relay authenticated as, if any. */
  user: string | null
}

export interface SinkOptions {
  /** Reply to a MAIL FROM: a refusal to send, or undefined to accept. */
  onMail?: (address: string) => SmtpReply | undefined
  /** Reply to a RCPT TO: a refusal to send, or undefined to accept. */
  onRcpt?: (address: string) => SmtpReply | undefined
  /** Reply to the end of DATA: a refusal to send, or undefined to accept. */
  onData?: (msg: SunkMessage) => SmtpReply | undefined
  /** Wait this long before answering the end of DATA. */
  delayMs?: number
  /** Wait this long before answering each RCPT TO. */
  rcptDelayMs?: number
  /** Offer STARTTLS (with a test certificate). Default true. */
  starttls?: boolean
  /** Listen on this port instead of a free one. */
  port?: number
  /** Announce this SIZE limit in EHLO (RFC 1870). */
  size?: number
  /** Require SMTP AUTH (PLAIN/LOGIN, after STARTTLS) with these credentials. */
  auth?: { user: string; pass: string }
}

/** A real SMTP server on 127.0.0.1 that records what arrives: the next hop in tests. */
export interface Sink {
  port: number
  messages: SunkMessage[]
  /** Connections seen, including ones that sent nothing. */
  connections: number
  close(): Promise<void>
}

/** Starts a recording SMTP sink. */
export async function startSink(opts: SinkOptions = {}): Promise<Sink> {
  const messages: SunkMessage[] = []
  const tls = opts.starttls === false ? null : await testCertificate('sink.test')
  let connections = 0
  const server = new SMTPServer({
    name: 'sink.test',
    ...(tls ? { key: tls.key, cert: tls.cert } : {}),
    disabledCommands: [...(opts.auth ? [] : ['AUTH']), ...(tls ? [] : ['STARTTLS'])],
    authOptional: !opts.auth,
    // The relay is the only client: no reverse lookup through the system's resolver.
    disableReverseLookup: true,
    logger: false,
    ...(opts.size ? { size: opts.size } : {}),
    onAuth(auth, _s, cb) {
      if (auth.username === opts.auth?.user && auth.password === opts.auth?.pass) return cb(null, { user: auth.username })
      cb(sinkReply('535 5.7.8 Authentication credentials invalid'))
    },
    onConnect(_s, cb) {
      connections++
      cb()
    },
    onMailFrom(address, _s, cb) {
      cb(opts.onMail?.(address.address) ?? null)
    },
    onRcptTo(address, _s, cb) {
      const refusal = opts.onRcpt?.(address.address)
      if (opts.rcptDelayMs) setTimeout(() => cb(refusal ?? null), opts.rcptDelayMs)
      else cb(refusal ?? null)
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = []
      stream.on('data', (c: Buffer) => chunks.push(c))
      stream.on('end', () => {
        const raw = Buffer.concat(chunks)
        const text = raw.toString('latin1')
        const head = text.split(/\r\n\r\n/)[0] ?? ''
        const msg: SunkMessage = {
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
          text,
          headers: head.replace(/\r\n[ \t]+/g, ' ').split('\r\n'),
          secure: session.secure,
          user: typeof session.user === 'string' ? session.user : null,
        }
        const answer = () => {
          const refusal = opts.onData?.(msg)
          if (refusal) return cb(refusal)
          messages.push(msg)
          cb(null, `2.0.0 Ok: queued as SINK${messages.length}`)
        }
        if (opts.delayMs) setTimeout(answer, opts.delayMs)
        else answer()
      })
    },
  })
  // A relay killed mid-session (the cluster test's SIGKILL) resets its pooled connections; smtp-server
  // reports that as an 'error' event, which without a listener would end the test process.
  server.on('error', () => undefined)
  server.listen(opts.port ?? 0, '127.0.0.1')
  await once(server.server, 'listening')
  return {
    port: (server.server.address() as AddressInfo).port,
    messages,
    get connections() {
      return connections
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

/** A refusal the sink can send. */
export const sinkReply = (line: string) => SmtpReply.parse(line)
