import type { Socket } from 'node:net'
import SMTPConnection from 'nodemailer/lib/smtp-connection'
import type { SMTPConnectionOptions } from 'nodemailer/lib/smtp-connection'
import { countBareLineEndings, normalizeLineEndings } from './message.js'

/** A fault of the connection (no reply): nodemailer's error with its code (ECONNECTION, ETIMEDOUT, EAUTH, ETLS…). */
export type HopFault = Error & { code?: string; command?: string; response?: string; responseCode?: number }

/** What became of a message once DATA was accepted with 354. */
export type DataOutcome =
  /** The hop answered the final dot. */
  | { kind: 'reply'; line: string }
  /** The connection failed while the body was still being sent: the hop cannot have taken it. */
  | { kind: 'not-sent'; fault: HopFault }
  /** The final dot went out and no answer came (closed or timed out): it may have been delivered. */
  | { kind: 'unknown'; fault: HopFault }

// What we use of nodemailer's SMTPConnection beyond its typed API: its reply queue (one
// callback per expected reply, in order) and its command writer. smtp-pool and send() do the
// whole envelope in one go; relaying RCPT by RCPT while the client waits needs the commands one
// at a time, on a connection nodemailer has already greeted, secured and authenticated.
interface Internals {
  _responseActions: ((line: string) => void)[]
  _sendCommand(line: string): void
  _supportedExtensions: string[]
  _maxAllowedSize: number
}

/**
 * One connection to a next hop: nodemailer's SMTPConnection does the greeting, EHLO, STARTTLS
 * and AUTH; this class then speaks MAIL, RCPT, DATA and RSET one command at a time, so each
 * RCPT can wait for the client's next one. A connection fault fails every reply still awaited.
 */
export class HopConnection {
  /** Messages sent on this connection, for the per-connection cap. */
  messages = 0
  readonly #conn: SMTPConnection
  readonly #inner: Internals
  readonly #waiting = new Set<(fault: HopFault) => void>()
  readonly #socketTimeout: number
  #fault: HopFault | null = null

  private constructor(conn: SMTPConnection, socketTimeout: number) {
    this.#conn = conn
    this.#inner = conn as unknown as Internals
    this.#socketTimeout = socketTimeout
    const fail = (fault: HopFault) => {
      this.#fault ??= fault
      for (const reject of [...this.#waiting]) reject(this.#fault)
      this.#waiting.clear()
    }
    conn.on('error', (err: HopFault) => fail(err))
    conn.on('end', () => fail(Object.assign(new Error('Connection closed'), { code: 'ECONNECTION', command: 'CONN' })))
  }

  /** Connects, greets, secures and authenticates as the options say. */
  static open(options: SMTPConnectionOptions, auth: { user: string; pass: string } | undefined): Promise<HopConnection> {
    const conn = new SMTPConnection(options)
    const hop = new HopConnection(conn, options.socketTimeout ?? 120_000)
    const inner = conn as unknown as Partial<Internals>
    if (typeof inner._sendCommand !== 'function' || !Array.isArray(inner._responseActions)) {
      throw new Error('nodemailer SMTPConnection lacks _sendCommand/_responseActions: version not supported')
    }
    return new Promise((resolve, reject) => {
      let settled = false
      const settle = (err: HopFault | null | undefined) => {
        if (settled) return
        settled = true
        hop.#waiting.delete(settle)
        if (err) {
          conn.close()
          reject(err)
        } else resolve(hop)
      }
      hop.#waiting.add(settle)
      conn.connect((err) => {
        if (err) return settle(err)
        if (!auth || !conn.allowsAuth) return settle(null)
        conn.login({ user: auth.user, credentials: { user: auth.user, pass: auth.pass } }, (e) => settle(e ?? null))
      })
    })
  }

  /** The connection can take a command (not closed, no fault seen). */
  get usable(): boolean {
    return !this.#fault && !this.#conn.destroyed
  }

  /** The extensions the hop announced in EHLO (as nodemailer parsed them: PIPELINING, 8BITMIME, SMTPUTF8, SIZE…). */
  supports(extension: string): boolean {
    return this.#inner._supportedExtensions.includes(extension)
  }

  /** The hop's SIZE limit, 0 for none. */
  get maxSize(): number {
    return this.#inner._maxAllowedSize || 0
  }

  /**
   * Sends commands (pipelined if there are several: the caller checks PIPELINING, RFC 2920)
   * and resolves with one reply line per command, or rejects with the connection's fault.
   */
  commands(lines: readonly string[]): Promise<string[]> {
    if (this.#fault) return Promise.reject(this.#fault)
    return new Promise((resolve, reject) => {
      const replies: string[] = []
      const fail = (fault: HopFault) => reject(fault)
      this.#waiting.add(fail)
      for (let i = 0; i < lines.length; i++) {
        this.#inner._responseActions.push((reply) => {
          replies.push(reply)
          if (replies.length < lines.length) return
          this.#waiting.delete(fail)
          resolve(replies)
        })
      }
      const socket = this.#conn._socket
      if (socket) socket.cork()
      for (const line of lines) this.#inner._sendCommand(line)
      if (socket) socket.uncork()
    })
  }

  /** Sends one command and resolves with its reply line. */
  async command(line: string): Promise<string> {
    const [reply] = await this.commands([line])
    return reply ?? ''
  }

  /**
   * Sends DATA, then the message (dot-stuffed, RFC 5321 section 4.5.2) and the final dot, and
   * waits up to `replyTimeout` for the answer (RFC 5321 section 4.5.3.2.6 suggests 10 minutes).
   * A refused DATA command comes back as a reply. Once the final dot is written, a fault is
   * `unknown`: the hop may have queued the message before it went silent.
   */
  async data(raw: Buffer, replyTimeout: number): Promise<DataOutcome> {
    let go: string
    try {
      go = await this.command('DATA')
    } catch (err) {
      return { kind: 'not-sent', fault: err as HopFault }
    }
    if (!go.startsWith('3')) return { kind: 'reply', line: go }
    const socket = this.#conn._socket
    if (!socket || this.#fault) return { kind: 'not-sent', fault: this.#fault ?? connectionGone() }
    this.messages++
    return this.#sendBody(socket, wireBody(raw), replyTimeout)
  }

  /** Writes the body and its final dot, then awaits the one reply with its own timer. */
  async #sendBody(socket: Socket, body: Buffer, replyTimeout: number): Promise<DataOutcome> {
    let dotSent = false
    let timer: NodeJS.Timeout | undefined
    const reply = new Promise<string>((resolve, reject) => {
      const fail = (fault: HopFault) => reject(fault)
      this.#waiting.add(fail)
      this.#inner._responseActions.push((line) => {
        this.#waiting.delete(fail)
        resolve(line)
      })
    })
    // Raced below; a fault before the race starts must not count as unhandled.
    reply.catch(() => undefined)
    try {
      // The body is on its way once write() has it; the socket's inactivity timer would cut a
      // long wait for the reply short, so the wait for the reply has its own deadline.
      await new Promise<void>((resolve, reject) => {
        socket.write(body, (err) => (err ? reject(err) : resolve()))
      })
      dotSent = true
      socket.setTimeout(0)
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(Object.assign(new Error('No reply to the final dot'), { code: 'ETIMEDOUT', command: 'DATA' })), replyTimeout)
      })
      const line = await Promise.race([reply, timeout])
      socket.setTimeout(this.#socketTimeout)
      return { kind: 'reply', line }
    } catch (err) {
      const fault = (this.#fault ?? err) as HopFault
      this.close()
      return dotSent ? { kind: 'unknown', fault } : { kind: 'not-sent', fault }
    } finally {
      clearTimeout(timer)
    }
  }

  /** Ends the transaction on the hop (RSET) so the connection can be used again. */
  async reset(): Promise<boolean> {
    try {
      return (await this.command('RSET')).startsWith('2')
    } catch {
      return false
    }
  }

  /** Says QUIT and closes. */
  quit(): void {
    if (this.usable) this.#conn.quit()
    else this.#conn.close()
  }

  /** Closes at once. */
  close(): void {
    this.#conn.close()
  }
}

function connectionGone(): HopFault {
  return Object.assign(new Error('Connection closed'), { code: 'ECONNECTION', command: 'CONN' })
}

const DOT_LINE = Buffer.from('.\r\n')
const CRLF = Buffer.from('\r\n')

/**
 * The message as it goes on the wire after 354: CRLF line ends only (no bare CR or LF a lenient
 * hop could read as the end of data, SMTP smuggling), a dot doubled at the start of each line
 * (RFC 5321 section 4.5.2), a final CRLF if missing, and the final dot.
 */
export function wireBody(raw: Buffer): Buffer {
  const counts = countBareLineEndings(raw)
  const clean = normalizeLineEndings({ raw, size: raw.length, overLimit: false, ...counts })
  const parts: Buffer[] = []
  let from = 0
  if (clean[0] === 0x2e) {
    parts.push(Buffer.from('.'))
  }
  for (let i = clean.indexOf('\r\n.'); i !== -1; i = clean.indexOf('\r\n.', i + 3)) {
    parts.push(clean.subarray(from, i + 2), Buffer.from('.'))
    from = i + 2
  }
  parts.push(clean.subarray(from))
  if (clean.length && !(clean[clean.length - 2] === 0x0d && clean[clean.length - 1] === 0x0a)) parts.push(CRLF)
  parts.push(DOT_LINE)
  return Buffer.concat(parts)
}
