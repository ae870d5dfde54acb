import { once } from 'node:events'
import net from 'node:net'
import tls from 'node:tls'
import { ReplyReader } from '../../src/smtp/reply-reader.js'
import type { RawReply } from '../../src/smtp/reply-reader.js'

/** The argument of `AUTH PLAIN` (RFC 4616): no authorization identity, the user and the password. */
export const saslPlain = (user: string, password: string): string => Buffer.from(`\0${user}\0${password}`).toString('base64')

/** The whole `AUTH PLAIN <argument>` command line (no CRLF), for `SmtpDialog.cmd`. */
export const authPlain = (user: string, password: string): string => `AUTH PLAIN ${saslPlain(user, password)}`

/** One SMTP reply: the code, the lines without code, and the last line as sent. */
export type Reply = RawReply

export interface DialOptions {
  port: number
  host?: string
  /** Source address, to play a given customer (any 127.0.0.0/8 address works). */
  localAddress?: string
  /** Start with TLS (implicit TLS listeners). */
  implicitTls?: boolean
  timeoutMs?: number
}

/**
 * A raw-socket SMTP client for tests that care about exact reply lines and bytes: reads
 * multi-line replies, sends commands or raw data, upgrades with STARTTLS.
 */
export class SmtpDialog {
  #socket: net.Socket
  #replies = new ReplyReader()
  readonly greeting: Promise<Reply>

  private constructor(socket: net.Socket) {
    this.#socket = socket
    this.#replies.attach(socket)
    this.greeting = this.read()
  }

  static async open(opts: DialOptions): Promise<SmtpDialog> {
    const host = opts.host ?? '127.0.0.1'
    const plain = net.connect({ host, port: opts.port, localAddress: opts.localAddress })
    await once(plain, 'connect')
    if (!opts.implicitTls) return new SmtpDialog(plain)
    const secure = tls.connect({ socket: plain, rejectUnauthorized: false })
    await once(secure, 'secureConnect')
    return new SmtpDialog(secure)
  }

  get closed(): boolean {
    return this.#replies.closed
  }

  /** Reads one complete (possibly multi-line) reply; throws when the connection closes or stays silent. */
  async read(timeoutMs = 20_000): Promise<Reply> {
    const reply = await this.#replies.next(timeoutMs)
    if (reply) return reply
    const got = JSON.stringify(this.#replies.unread)
    if (this.#replies.closed) throw new Error(`connection closed while waiting for a reply; got ${got}`)
    throw new Error(`no reply within ${timeoutMs} ms; got ${got}`)
  }

  /** Sends a command line and reads its reply. */
  async cmd(line: string): Promise<Reply> {
    this.write(`${line}\r\n`)
    return this.read()
  }

  /** Writes raw bytes. */
  write(data: string | Buffer): void {
    this.#socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data)
  }

  /** STARTTLS and a fresh EHLO. */
  async starttls(helo = 'client.test'): Promise<Reply> {
    const r = await this.cmd('STARTTLS')
    if (r.code !== 220) throw new Error(`STARTTLS refused: ${r.line}`)
    const secure = tls.connect({ socket: this.#socket, rejectUnauthorized: false })
    await once(secure, 'secureConnect')
    this.#socket = secure
    // The plain socket's reader is not detached nor emptied: the TLS socket takes its handle
    // over, so no ciphertext reaches it, and anything the relay sent after its 220 in the clear
    // stays buffered, read as the reply to EHLO, where a test sees it.
    this.#replies.attach(secure)
    return this.cmd(`EHLO ${helo}`)
  }

  /** MAIL, RCPTs, DATA and the message; returns every reply. */
  async send(from: string, to: string[], message: string): Promise<{ mail: Reply; rcpt: Reply[]; data?: Reply; end?: Reply }> {
    const mail = await this.cmd(`MAIL FROM:<${from}>`)
    const rcpt: Reply[] = []
    for (const r of to) rcpt.push(await this.cmd(`RCPT TO:<${r}>`))
    if (mail.code !== 250 || !rcpt.some((r) => r.code === 250)) return { mail, rcpt }
    const data = await this.cmd('DATA')
    if (data.code !== 354) return { mail, rcpt, data }
    this.write(message.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..') + '\r\n.\r\n')
    return { mail, rcpt, data, end: await this.read() }
  }

  async quit(): Promise<void> {
    if (this.#replies.closed) return
    try {
      await this.cmd('QUIT')
    } catch {
      // already gone
    }
    this.#socket.destroy()
  }

  destroy(): void {
    this.#socket.destroy()
  }
}

/** A small RFC 5322 message. */
export function message(subject: string, body = 'Hello.\r\n', extra: Record<string, string> = {}): string {
  const headers = { From: 'sender@customer.test', To: 'rcpt@remote.test', Subject: subject, ...extra }
  return `${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\r\n')}\r\n\r\n${body}`
}

/** Opens a session from `localAddress`, EHLO, STARTTLS and EHLO again (both as `helo`): ready for AUTH. */
export async function securedDialog(port: number, localAddress: string, helo = 'pc.test'): Promise<SmtpDialog> {
  const c = await SmtpDialog.open({ port, localAddress })
  await c.greeting
  await c.cmd(`EHLO ${helo}`)
  await c.starttls(helo)
  return c
}

/** Opens a session, greets with EHLO, sends one message and quits; returns every reply. */
export async function sendOne(
  port: number,
  from: string,
  to: string[],
  body: string,
  opts: { localAddress?: string; helo?: string } = {},
): ReturnType<SmtpDialog['send']> {
  const c = await SmtpDialog.open({ port, localAddress: opts.localAddress })
  await c.greeting
  await c.cmd(`EHLO ${opts.helo ?? 'pc.test'}`)
  const replies = await c.send(from, to, body)
  await c.quit()
  return replies
}
