import { appendFile, mkdir, open as openFile, readFile, readdir, rm, stat, unlink } from 'node:fs/promises'
import { join, resolve, sep } from 'node:path'

/** One kept message as its index line describes it. */
export interface QuarantineEntry {
  id: string
  /** held: kept for review (the client was told so); refused: kept as evidence of a refusal. */
  kind: 'held' | 'refused'
  when: string
  instance: string
  client: { address: string; ptr: string | null }
  user: string | null
  sender: string
  recipients: string[]
  subject: string | null
  /** Short token of the cause (a rule, a flag, a check); also the folder it is kept in. */
  reason: string
  /** What the client was told. */
  reply: string
  hits: string[]
  flags: string[]
  /** The message file, relative to the quarantine folder. */
  file: string
  size: number
}

/** A release, appended to the index of the day the message was kept. */
export interface ReleaseRecord {
  event: 'released'
  id: string
  when: string
  by: string
  /** The next hop's reply, or why the release failed. */
  reply: string
  delivered: boolean
}

/** An entry with its releases, as `list` and `find` return it. */
export interface StoredEntry extends QuarantineEntry {
  releases: ReleaseRecord[]
}

/** What a store may hold. */
export interface QuarantineLimits {
  maxSize: number
  maxAgeMs: number
}

const DAY = /^\d{4}-\d{2}-\d{2}$/
const INDEX = 'index.jsonl'
// Customer mail: the owner and its group (an abuse desk) only, whatever the umask.
const FILE_MODE = 0o640
const DIR_MODE = 0o750

/**
 * Whether an index line of `day` describes a message file inside that day's folder. The index
 * is a file on disk: a line that names `../../etc/shadow` must never be read, shown or pruned.
 */
function insideDay(dir: string, day: string, line: QuarantineEntry): boolean {
  if (typeof line.file !== 'string' || !line.file.endsWith('.eml') || typeof line.when !== 'string' || !line.when.startsWith(day)) return false
  return resolve(dir, line.file).startsWith(resolve(dir, day) + sep)
}

/** "Office_Macro" or "content: x" → a folder-safe token. */
export function reasonToken(reason: string): string {
  return reason.toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 64) || 'unspecified'
}

/**
 * Refused and held messages on disk: `<dir>/<day>/<reason>/<id>.eml`, and per day an
 * `index.jsonl` with one line per kept message (and one per release). Days older than the age
 * limit are removed; past the size limit the oldest messages are removed (their index lines
 * stay, so the evidence of what was refused remains). The size is tracked per process.
 */
export class QuarantineStore {
  readonly dir: string
  limits: QuarantineLimits
  #files: { path: string; size: number }[] | null = null
  #total = 0

  constructor(dir: string, limits: QuarantineLimits) {
    this.dir = dir
    this.limits = limits
  }

  /** Writes a message and its index line; resolves with the entry as indexed. */
  async keep(entry: Omit<QuarantineEntry, 'file' | 'when' | 'size'>, raw: Buffer, now = new Date()): Promise<QuarantineEntry> {
    await this.#load()
    const day = now.toISOString().slice(0, 10)
    const folder = join(day, reasonToken(entry.reason))
    await mkdir(join(this.dir, folder), { recursive: true, mode: DIR_MODE })
    let file = join(folder, `${entry.id}.eml`)
    for (let n = 1; ; n++) {
      try {
        await durableWrite(join(this.dir, file), raw, 'wx')
        break
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || n > 100) throw err
        file = join(folder, `${entry.id}-${n}.eml`)
      }
    }
    const kept: QuarantineEntry = { ...entry, when: now.toISOString(), file, size: raw.length }
    await durableWrite(join(this.dir, day, INDEX), `${JSON.stringify(kept)}\n`, 'a')
    // The client is told the message is held only after it and its index line are on disk.
    await syncDirectory(join(this.dir, folder))
    this.#files?.push({ path: join(this.dir, file), size: raw.length })
    this.#total += raw.length
    await this.prune(now, join(this.dir, file))
    return kept
  }

  /** Every entry, newest first, with its releases. */
  async list(): Promise<StoredEntry[]> {
    const out: StoredEntry[] = []
    for (const day of (await this.#days()).reverse()) {
      const lines = await this.#index(day)
      const releases = lines.filter((l): l is ReleaseRecord => 'event' in l && l.event === 'released')
      for (const l of lines) {
        if ('event' in l) continue
        out.push({ ...l, releases: releases.filter((r) => r.id === l.id) })
      }
    }
    return out.sort((a, b) => (a.when < b.when ? 1 : a.when > b.when ? -1 : 0))
  }

  /** The entry with this id (or a unique prefix of it), or null. */
  async find(id: string): Promise<StoredEntry | null> {
    const all = await this.list()
    const exact = all.find((e) => e.id === id)
    if (exact) return exact
    const prefixed = all.filter((e) => e.id.startsWith(id))
    return prefixed.length === 1 ? (prefixed[0] ?? null) : null
  }

  /** The kept message; throws ENOENT when the size limit has removed it. */
  read(entry: QuarantineEntry): Promise<Buffer> {
    if (!insideDay(this.dir, entry.when.slice(0, 10), entry)) return Promise.reject(new Error(`message file ${JSON.stringify(entry.file)} is outside the quarantine`))
    return readFile(join(this.dir, entry.file))
  }

  /** Appends a release line to the index of the entry's day. */
  async recordRelease(entry: QuarantineEntry, release: Omit<ReleaseRecord, 'event' | 'id' | 'when'>, now = new Date()): Promise<ReleaseRecord> {
    const record: ReleaseRecord = { event: 'released', id: entry.id, when: now.toISOString(), ...release }
    const day = entry.when.slice(0, 10)
    if (!DAY.test(day)) throw new Error(`entry ${entry.id} has no day: ${JSON.stringify(entry.when)}`)
    await appendFile(join(this.dir, day, INDEX), `${JSON.stringify(record)}\n`, { mode: FILE_MODE })
    return record
  }

  /** Removes days past the age limit, then the oldest messages past the size limit (never `keep`). */
  async prune(now = new Date(), keep?: string): Promise<void> {
    await this.#load()
    const cutoff = new Date(now.getTime() - this.limits.maxAgeMs).toISOString().slice(0, 10)
    for (const day of await this.#days()) {
      if (day >= cutoff) break
      await rm(join(this.dir, day), { recursive: true, force: true })
      const gone = join(this.dir, day)
      this.#files = (this.#files ?? []).filter((f) => {
        if (!f.path.startsWith(gone)) return true
        this.#total -= f.size
        return false
      })
    }
    const files = this.#files ?? []
    while (this.#total > this.limits.maxSize && files.length && files[0]?.path !== keep) {
      const oldest = files.shift() as { path: string; size: number }
      this.#total -= oldest.size
      await unlink(oldest.path).catch(() => undefined)
    }
  }

  async #days(): Promise<string[]> {
    const names = await readdir(this.dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [] as string[]
      throw err
    })
    return names.filter((n) => DAY.test(n)).sort()
  }

  /** The lines of a day's index; malformed lines and entries whose file is outside the day's folder are left out. */
  async #index(day: string): Promise<(QuarantineEntry | ReleaseRecord)[]> {
    const text = await readFile(join(this.dir, day, INDEX), 'utf8').catch(() => '')
    return text
      .split('\n')
      .filter((l) => l.trim())
      .flatMap((l) => {
        try {
          const line = JSON.parse(l) as QuarantineEntry | ReleaseRecord | null
          if (!line || typeof line !== 'object') return []
          return 'event' in line || insideDay(this.dir, day, line) ? [line] : []
        } catch {
          return []
        }
      })
  }

  /** Reads what is on disk once, oldest first, to know the size the limit applies to. */
  async #load(): Promise<void> {
    if (this.#files) return
    const files: { path: string; size: number; when: string }[] = []
    for (const day of await this.#days()) {
      for (const line of await this.#index(day)) {
        if ('event' in line) continue
        const path = join(this.dir, line.file)
        const size = await stat(path).then((s) => s.size, () => null)
        if (size !== null) files.push({ path, size, when: line.when })
      }
    }
    files.sort((a, b) => (a.when < b.when ? -1 : a.when > b.when ? 1 : 0))
    this.#files ??= files.map(({ path, size }) => ({ path, size }))
    this.#total = this.#files.reduce((sum, f) => sum + f.size, 0)
  }
}

const open = new Map<string, QuarantineStore>()

/** The store of a folder, shared by every policy snapshot that names it; limits follow the latest. */
export function quarantineStore(dir: string, limits: QuarantineLimits): QuarantineStore {
  let store = open.get(dir)
  if (!store) {
    store = new QuarantineStore(dir, limits)
    open.set(dir, store)
  }
  store.limits = limits
  return store
}

/** Writes (or appends) and fsyncs, so a reply that says "held" never outlives a crash. */
async function durableWrite(path: string, data: Buffer | string, flag: 'wx' | 'a'): Promise<void> {
  const handle = await openFile(path, flag, FILE_MODE)
  try {
    await handle.writeFile(data)
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** Makes a new directory entry durable (the file's own fsync does not cover its name). */
async function syncDirectory(path: string): Promise<void> {
  const handle = await openFile(path, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}
