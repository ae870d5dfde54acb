import { mkdir, open, readFile, rename } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { Incident } from './incident.js'
import type { IncidentStore } from './store.js'

/** Most incidents kept; the longest resolved go first. */
const MAX_KEPT = 10_000

/**
 * Incidents of the memory backend: held in memory, the whole set rewritten to a JSON file
 * (temporary file, fsync, rename) after each change, read back at start. Incidents change at
 * most every few seconds, so a rewrite is cheap next to keeping a second journal.
 */
export class FileIncidentStore implements IncidentStore {
  readonly #file: string
  readonly #byId = new Map<string, Incident>()
  #chain: Promise<void> = Promise.resolve()

  private constructor(file: string) {
    this.#file = file
  }

  static async open(file: string): Promise<FileIncidentStore> {
    const store = new FileIncidentStore(file)
    await mkdir(dirname(file), { recursive: true, mode: 0o700 })
    try {
      for (const i of JSON.parse(await readFile(file, 'utf8')) as Incident[]) store.#byId.set(i.id, i)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    return store
  }

  get(id: string): Promise<Incident | null> {
    return Promise.resolve(this.#byId.get(id) ?? null)
  }

  list(): Promise<Incident[]> {
    return Promise.resolve([...this.#byId.values()].sort((a, b) => (a.last_seen < b.last_seen ? 1 : -1)))
  }

  put(incident: Incident): Promise<void> {
    this.#byId.set(incident.id, incident)
    if (this.#byId.size > MAX_KEPT) {
      const oldest = [...this.#byId.values()].filter((i) => i.status === 'resolved').sort((a, b) => ((a.resolved_at ?? '') < (b.resolved_at ?? '') ? -1 : 1))[0]
      if (oldest) this.#byId.delete(oldest.id)
    }
    return this.#save()
  }

  prune(before: number): Promise<void> {
    const cut = new Date(before).toISOString()
    let dropped = false
    for (const i of [...this.#byId.values()]) {
      if (i.status === 'resolved' && i.resolved_at !== null && i.resolved_at < cut) dropped = this.#byId.delete(i.id)
    }
    return dropped ? this.#save() : Promise.resolve()
  }

  close(): Promise<void> {
    return this.#chain
  }

  #save(): Promise<void> {
    const text = JSON.stringify([...this.#byId.values()])
    const next = this.#chain.then(async () => {
      const tmp = `${this.#file}.tmp`
      const fh = await open(tmp, 'w', 0o600)
      await fh.write(text)
      await fh.datasync()
      await fh.close()
      await rename(tmp, this.#file)
    })
    this.#chain = next.catch(() => undefined)
    return next
  }
}
