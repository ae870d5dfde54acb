import { mkdir, open, readFile, rename } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { Delivery, Outbox } from './store.js'

type JournalLine = { op: 'put'; d: Delivery } | { op: 'done'; id: string } | { op: 'retry'; id: string; next_at: number; attempts: number; error: string }

/** Rewrite the journal once it holds this many more lines than live deliveries. */
const COMPACT_SLACK = 1000

/**
 * The outbox of the memory backend: a JSONL journal (put / done / retry lines), each line
 * fsync'ed before the call returns, replayed at start and compacted (rewritten with only the
 * waiting deliveries, then renamed over) when it grows. A torn last line from a crash is skipped.
 */
export class FileOutbox implements Outbox {
  readonly #file: string
  readonly #live = new Map<string, Delivery>()
  /** `sender\0incident` → id of the delivery waiting for it: what `put` folds into. */
  readonly #waiting = new Map<string, string>()
  #fh: FileHandle | null = null
  #lines = 0
  #chain: Promise<void> = Promise.resolve()

  private constructor(file: string) {
    this.#file = file
  }

  static async open(file: string): Promise<FileOutbox> {
    const box = new FileOutbox(file)
    await mkdir(dirname(file), { recursive: true, mode: 0o700 })
    let text = ''
    try {
      text = await readFile(file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    for (const raw of text.split('\n')) {
      if (!raw) continue
      let line: JournalLine
      try {
        line = JSON.parse(raw) as JournalLine
      } catch {
        continue // a line torn by a crash mid-write: its call never returned, so nothing was promised
      }
      box.#apply(line)
    }
    await box.#compact()
    return box
  }

  put(d: Delivery): Promise<void> {
    return this.#write({ op: 'put', d })
  }

  due(now: number, limit: number): Promise<Delivery[]> {
    const due = [...this.#live.values()].filter((d) => d.next_at <= now).sort((a, b) => a.next_at - b.next_at)
    return Promise.resolve(due.slice(0, limit))
  }

  done(d: Delivery): Promise<void> {
    return this.#write({ op: 'done', id: d.id })
  }

  retry(d: Delivery, nextAt: number, error: string): Promise<void> {
    return this.#write({ op: 'retry', id: d.id, next_at: nextAt, attempts: d.attempts + 1, error })
  }

  stats(): Promise<{ size: number; oldest: number | null }> {
    let oldest: number | null = null
    for (const d of this.#live.values()) if (oldest === null || d.created_at < oldest) oldest = d.created_at
    return Promise.resolve({ size: this.#live.size, oldest })
  }

  async close(): Promise<void> {
    await this.#chain
    await this.#fh?.close()
    this.#fh = null
  }

  #apply(line: JournalLine): void {
    this.#lines++
    if (line.op === 'put') {
      const slot = `${line.d.sender}\0${line.d.incident_id}`
      const older = this.#waiting.get(slot)
      const previous = older ? this.#live.get(older) : undefined
      if (older) this.#live.delete(older)
      const d = previous ? { ...line.d, created_at: Math.min(previous.created_at, line.d.created_at) } : line.d
      this.#live.set(d.id, d)
      this.#waiting.set(slot, d.id)
    } else if (line.op === 'done') {
      const d = this.#live.get(line.id)
      if (!d) return
      this.#live.delete(line.id)
      const slot = `${d.sender}\0${d.incident_id}`
      if (this.#waiting.get(slot) === line.id) this.#waiting.delete(slot)
    } else {
      const d = this.#live.get(line.id)
      if (d) this.#live.set(line.id, { ...d, next_at: line.next_at, attempts: line.attempts, last_error: line.error })
    }
  }

  /** Appends a line and fsyncs it, then applies it: calls are serialized, so the journal's order is the memory's. */
  #write(line: JournalLine): Promise<void> {
    const next = this.#chain.then(async () => {
      if (!this.#fh) throw new Error(`the outbox ${this.#file} is closed`)
      await this.#fh.write(`${JSON.stringify(line)}\n`)
      await this.#fh.datasync()
      this.#apply(line)
      if (this.#lines > this.#live.size + COMPACT_SLACK) await this.#compact()
    })
    this.#chain = next.catch(() => undefined)
    return next
  }

  async #compact(): Promise<void> {
    await this.#fh?.close()
    const tmp = `${this.#file}.tmp`
    const fh = await open(tmp, 'w', 0o600)
    const lines = [...this.#live.values()].map((d) => JSON.stringify({ op: 'put', d } satisfies JournalLine))
    await fh.write(lines.length ? `${lines.join('\n')}\n` : '')
    await fh.datasync()
    await fh.close()
    await rename(tmp, this.#file)
    this.#lines = lines.length
    this.#fh = await open(this.#file, 'a', 0o600)
  }
}
