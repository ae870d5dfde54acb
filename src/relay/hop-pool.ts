import type { SMTPConnectionOptions } from 'nodemailer/lib/smtp-connection'
import { HopConnection } from './hop-connection.js'
import type { HopFault } from './hop-connection.js'

/** Messages sent on one connection before it is closed and a fresh one opened (as nodemailer's pool does). */
const MAX_MESSAGES = 1000

/** A connection lent by a pool; `reused` says it had carried a transaction before. */
export interface Lent {
  conn: HopConnection
  reused: boolean
}

/**
 * The connections to one next hop: at most `max` open, idle ones reused after RSET. A
 * connection is lent for a whole client transaction (from its first RCPT to the end of DATA),
 * so a busy hop makes the next transaction wait up to the connect timeout for one to come back.
 */
export class HopPool {
  readonly name: string
  readonly #options: SMTPConnectionOptions
  readonly #auth: { user: string; pass: string } | undefined
  readonly #max: number
  readonly #waitMs: number
  readonly #idle: HopConnection[] = []
  readonly #waiters: (() => void)[] = []
  #open = 0
  #closed = false

  constructor(name: string, options: SMTPConnectionOptions, auth: { user: string; pass: string } | undefined, max: number) {
    this.name = name
    this.#options = options
    this.#auth = auth
    this.#max = max
    this.#waitMs = options.connectionTimeout ?? 10_000
  }

  /** An idle connection, a new one, or the first one given back within the connect timeout. */
  async acquire(opts: { fresh?: boolean } = {}): Promise<Lent> {
    const deadline = Date.now() + this.#waitMs
    for (;;) {
      if (this.#closed) throw fault('EPOOL', 'the pool is closed')
      while (!opts.fresh && this.#idle.length) {
        const conn = this.#idle.pop() as HopConnection
        if (conn.usable) return { conn, reused: true }
        this.#forget(conn)
      }
      if (this.#open < this.#max) {
        this.#open++
        try {
          return { conn: await HopConnection.open(this.#options, this.#auth), reused: false }
        } catch (err) {
          this.#open--
          this.#wake()
          throw err
        }
      }
      if (opts.fresh && this.#idle.length) {
        this.#forget(this.#idle.shift() as HopConnection)
        continue
      }
      const left = deadline - Date.now()
      if (left <= 0) throw fault('EBUSY', `all ${this.#max} connections are busy`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left)
        function done() {
          clearTimeout(timer)
          resolve()
        }
        this.#waiters.push(done)
      })
    }
  }

  /** Takes a connection back: kept for the next transaction if it is clean, closed otherwise. */
  release(conn: HopConnection, clean: boolean): void {
    if (this.#closed || !clean || !conn.usable || conn.messages >= MAX_MESSAGES) {
      this.#forget(conn)
      return
    }
    this.#idle.push(conn)
    this.#wake()
  }

  /** Closes the idle connections; lent ones close when they come back. */
  close(): void {
    this.#closed = true
    for (const conn of this.#idle.splice(0)) {
      conn.quit()
      this.#open--
    }
    for (const wake of this.#waiters.splice(0)) wake()
  }

  #forget(conn: HopConnection): void {
    conn.close()
    this.#open--
    this.#wake()
  }

  #wake(): void {
    this.#waiters.shift()?.()
  }
}

function fault(code: string, message: string): HopFault {
  return Object.assign(new Error(message), { code, command: 'CONN' })
}
