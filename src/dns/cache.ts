/**
 * A bounded map whose entries expire: least recently used entries go first when it is full,
 * expired ones when they are next read. Time comes from `now` so tests can move it.
 */
export class TtlCache<V> {
  readonly #entries = new Map<string, { value: V; expires: number }>()
  readonly #max: number
  readonly #now: () => number

  constructor(maxEntries: number, now: () => number = Date.now) {
    this.#max = maxEntries
    this.#now = now
  }

  get size(): number {
    return this.#entries.size
  }

  /** The live value for `key`, which becomes the most recently used; undefined when absent or expired. */
  get(key: string): V | undefined {
    const entry = this.#entries.get(key)
    if (!entry) return undefined
    this.#entries.delete(key)
    if (entry.expires <= this.#now()) return undefined
    this.#entries.set(key, entry)
    return entry.value
  }

  /** Keeps `value` for `ttlMs`; a TTL of 0 (or a cache of size 0) keeps nothing. */
  set(key: string, value: V, ttlMs: number): void {
    if (ttlMs <= 0 || this.#max <= 0) return
    this.#entries.delete(key)
    this.#entries.set(key, { value, expires: this.#now() + ttlMs })
    // Map iteration order is insertion order: the first key is the least recently used.
    while (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next().value as string
      this.#entries.delete(oldest)
    }
  }

  clear(): void {
    this.#entries.clear()
  }
}
