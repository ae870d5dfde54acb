import type { Answer, Call, PrimaryMessage } from './messages.js'
import { isClusterMessage } from './messages.js'

/** How long a worker waits for the primary's answer before the operation fails (a fault: 4xx, never 5xx). */
const ANSWER_TIMEOUT_MS = 5000

interface Pending {
  resolve(value: unknown): void
  reject(err: Error): void
  deadline: number
}

/**
 * A worker's channel to the primary, which holds the instance's shared state. Calls made in
 * one turn of the event loop (the keys of a check, and those of every session that turn) go
 * in one IPC message, answered by one: the cost of a round trip is shared by all of them.
 */
export class PrimaryLink {
  readonly #send: (message: unknown) => void
  readonly #pending = new Map<number, Pending>()
  #queue: Call[] = []
  #flushing = false
  #next = 1
  readonly #sweep: NodeJS.Timeout

  constructor(send: (message: unknown) => void) {
    this.#send = send
    // One timer for every pending call: a primary that stopped answering fails them within a second of their deadline.
    this.#sweep = setInterval(() => this.#expire(Date.now()), 1000).unref()
  }

  /** A worker process's link over its IPC channel; `onMessage` gets the primary's other messages. */
  static ofProcess(onMessage: (message: PrimaryMessage) => void): PrimaryLink {
    const link = new PrimaryLink((message) => process.send?.(message))
    process.on('message', (message: unknown) => {
      if (!isClusterMessage<PrimaryMessage>(message)) return
      if (message.t === 'answers') link.answer(message.answers)
      else onMessage(message)
    })
    return link
  }

  /** Asks the primary for `op`; resolves with its answer. */
  call<T>(op: string, args: readonly unknown[]): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const id = this.#next++
      this.#pending.set(id, { resolve: resolve, reject, deadline: Date.now() + ANSWER_TIMEOUT_MS })
      this.#enqueue({ id, op, args })
    })
  }

  /** Tells the primary `op`, in order with the calls around it, without waiting for an answer. */
  notify(op: string, args: readonly unknown[]): void {
    this.#enqueue({ id: 0, op, args })
  }

  /** Settles the calls the primary answered. */
  answer(answers: readonly Answer[]): void {
    for (const a of answers) {
      const pending = this.#pending.get(a.id)
      if (!pending) continue
      this.#pending.delete(a.id)
      if ('error' in a) pending.reject(new Error(a.error))
      else pending.resolve(a.value)
    }
  }

  close(): void {
    clearInterval(this.#sweep)
    this.#expire(Infinity)
  }

  #enqueue(call: Call): void {
    this.#queue.push(call)
    if (this.#flushing) return
    this.#flushing = true
    setImmediate(() => {
      const calls = this.#queue
      this.#queue = []
      this.#flushing = false
      try {
        this.#send({ t: 'calls', calls })
      } catch (err) {
        // The channel closed (the primary is gone): the calls fail now, not at their deadline.
        for (const c of calls) this.#fail(c.id, err as Error)
      }
    })
  }

  #fail(id: number, err: Error): void {
    const pending = this.#pending.get(id)
    if (!pending) return
    this.#pending.delete(id)
    pending.reject(err)
  }

  #expire(now: number): void {
    for (const [id, p] of this.#pending) {
      if (p.deadline > now) continue
      this.#pending.delete(id)
      p.reject(new Error('the primary process did not answer'))
    }
  }
}
