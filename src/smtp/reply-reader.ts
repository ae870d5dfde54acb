import type net from 'node:net'

/** One SMTP reply as it came: the code, each line's text without its code, and the final line as sent. */
export interface RawReply {
  code: number
  lines: string[]
  /** The final line exactly as sent, e.g. "550 5.7.1 Relay access denied". */
  line: string
}

/** The final line of a reply: a code, then a space or nothing (RFC 5321 §4.2.1); "250-" lines go on. */
const FINAL_LINE = /^\d{3}(?: |$)/

/**
 * The reply side of a raw-socket SMTP client: buffers what the server sends, splits CRLF lines and
 * hands out one complete, possibly multi-line, reply at a time. The demo's customers and the
 * tests' client both read replies this way; each decides for itself what silence means (the demo
 * reads it as a closed connection, a test fails).
 */
export class ReplyReader {
  #buffer = ''
  #waiters: (() => void)[] = []
  #closed = false

  /** True once the connection closed; replies already buffered can still be read. */
  get closed(): boolean {
    return this.#closed
  }

  /** What arrived but is not a complete reply yet (for error messages). */
  get unread(): string {
    return this.#buffer
  }

  /** Reads `socket` as latin1 text (bytes stay bytes); returns a function that stops reading it. */
  attach(socket: net.Socket): () => void {
    const onData = (d: string): void => {
      this.#buffer += d
      this.#wake()
    }
    const onClose = (): void => this.close()
    socket.setEncoding('latin1')
    socket.on('data', onData)
    socket.on('close', onClose)
    socket.on('error', () => undefined)
    return () => {
      socket.off('data', onData)
      socket.off('close', onClose)
    }
  }

  /** Drops what arrived unread: nothing sent before TLS may pass for a reply after it (RFC 3207 §4.2). */
  discard(): void {
    this.#buffer = ''
  }

  /** Marks the connection closed and wakes whoever waits for a reply. */
  close(): void {
    this.#closed = true
    this.#wake()
  }

  /** The next complete reply; null when the connection closed or nothing complete came within `timeoutMs`. */
  async next(timeoutMs: number): Promise<RawReply | null> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const reply = this.#take()
      if (reply) return reply
      if (this.#closed || Date.now() >= deadline) return null
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()))
        this.#waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
  }

  /** Takes one complete reply from the buffer, if there is one. */
  #take(): RawReply | null {
    const lines: string[] = []
    let start = 0
    for (;;) {
      const eol = this.#buffer.indexOf('\r\n', start)
      if (eol < 0) return null
      const line = this.#buffer.slice(start, eol)
      start = eol + 2
      lines.push(line.slice(4))
      if (FINAL_LINE.test(line)) {
        this.#buffer = this.#buffer.slice(start)
        return { code: Number(line.slice(0, 3)), lines, line }
      }
    }
  }

  #wake(): void {
    const waiters = this.#waiters
    this.#waiters = []
    for (const w of waiters) w()
  }
}
