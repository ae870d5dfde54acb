/** Domains a client key's top list tracks (the space-saving summary's capacity). */
const TRACKED = 20

/** One recipient domain and the messages that went to it. */
export interface DomainCount {
  domain: string
  count: number
}

/**
 * The recipient domains a client sends to most, in bounded memory: Metwally et al.'s
 * space-saving summary (2005). A domain not tracked while the list is full replaces the least
 * counted one and inherits its count, so a domain truly among the top is never missed; counts of
 * the tail may be overestimated by at most the smallest tracked count.
 */
export class TopDomains {
  readonly #counts = new Map<string, number>()

  add(domain: string, n = 1): void {
    const have = this.#counts.get(domain)
    if (have !== undefined || this.#counts.size < TRACKED) {
      this.#counts.set(domain, (have ?? 0) + n)
      return
    }
    let min: [string, number] | null = null
    for (const entry of this.#counts) if (!min || entry[1] < min[1]) min = entry
    this.#counts.delete(min![0])
    this.#counts.set(domain, min![1] + n)
  }

  /** The `limit` most counted, most first (ties by name). */
  top(limit = 10): DomainCount[] {
    return [...this.#counts]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, limit)
      .map(([domain, count]) => ({ domain, count }))
  }
}
