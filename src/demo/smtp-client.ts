import net from 'node:net'
import tls from 'node:tls'
import { ReplyReader } from '../smtp/reply-reader.js'

/** One SMTP reply: its code and its text (lines joined by a space, without the codes). */
export interface Reply {
  code: number
  text: string
}

/** A reply standing for a connection the relay closed or that failed: no code was sent. */
export const CLOSED: Reply = { code: 0, text: 'connection closed' }

/**
 * A small SMTP client on a raw socket, for the demo's customers: it binds a loopback source
 * address (the customer it plays), reads multi-line replies and upgrades with STARTTLS. It
 * never throws for what the relay answers: a closed connection reads as CLOSED.
 */
export class SmtpClient {
  #socket: net.Socket
  #replies = new ReplyReader()
  #detach: () => void
  #timeoutMs: number

  private constructor(socket: net.Socket, timeoutMs: number) {
    this.#socket = socket
    this.#timeoutMs = timeoutMs
    this.#detach = this.#replies.attach(socket)
  }

  /** Connects from `localAddress`; null when the connection cannot be made. */
  static async connect(port: number, localAddress: string, timeoutMs = 30_000): Promise<SmtpClient | null> {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress })
    const ok = await new Promise<boolean>((resolve) => {
      socket.once('connect', () => resolve(true))
      socket.once('error', () => resolve(false))
    })
    if (!ok) {
      socket.destroy()
      return null
    }
    return new SmtpClient(socket, timeoutMs)
  }

  get closed(): boolean {
    return this.#replies.closed
  }

  /** Reads one complete reply; CLOSED when the connection ends or stays silent too long. */
  async read(): Promise<Reply> {
    const reply = await this.#replies.next(this.#timeoutMs)
    if (!reply) {
      this.close()
      return CLOSED
    }
    return { code: reply.code, text: reply.lines.join(' ') }
  }

  /** Sends a command line (or raw data when it ends in CRLF) and reads the reply. */
  async cmd(line: string): Promise<Reply> {
    if (!this.write(line.endsWith('\r\n') ? line : `${line}\r\n`)) return CLOSED
    return this.read()
  }

  /** Writes bytes without waiting for a reply; false once the connection is closed. */
  write(data: string): boolean {
    if (this.#replies.closed) return false
    this.#socket.write(data, 'latin1')
    return true
  }

  /** STARTTLS and the TLS handshake (the demo relay's certificate is self-signed: not verified). */
  async starttls(servername: string): Promise<Reply> {
    const r = await this.cmd('STARTTLS')
    if (r.code !== 220) return r
    const plain = this.#socket
    this.#detach()
    this.#replies.discard()
    const secure = tls.connect({ socket: plain, servername, rejectUnauthorized: false })
    const ok = await new Promise<boolean>((resolve) => {
      secure.once('secureConnect', () => resolve(true))
      secure.once('error', () => resolve(false))
      plain.once('close', () => resolve(false))
    })
    if (!ok) {
      this.close()
      return CLOSED
    }
    this.#socket = secure
    this.#detach = this.#replies.attach(secure)
    return r
  }

  /** QUIT, then close; never waits long for a relay that does not answer. */
  async quit(): Promise<void> {
    if (!this.#replies.closed) {
      this.write('QUIT\r\n')
      const timer = setTimeout(() => this.close(), 2000)
      await this.read()
      clearTimeout(timer)
    }
    this.close()
  }

  close(): void {
    this.#replies.close()
    this.#socket.destroy()
  }
}
