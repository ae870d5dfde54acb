import type { Observation } from '../stats/client-stats.js'
import type { ClientKey, ClientView, StatsStore, TopAnswer, TopQuery } from '../stats/store.js'
import type { PrimaryLink } from './primary-link.js'

/**
 * A worker's statistics: every observation goes to the primary's store of the instance (a
 * notice, batched with the turn's other calls), and reads are answered from there, so the
 * figures of a client are those of every worker.
 */
export class IpcStatsStore implements StatsStore {
  readonly kind = 'memory'
  readonly #link: PrimaryLink
  readonly #instance: string

  constructor(link: PrimaryLink, instance: string) {
    this.#link = link
    this.#instance = instance
  }

  observe(keys: readonly ClientKey[], o: Observation): void {
    this.#link.notify('stats.observe', [this.#instance, keys, o])
  }

  top(q: TopQuery, now?: number): Promise<TopAnswer> {
    return this.#link.call('stats.top', [this.#instance, q, now])
  }

  show(key: ClientKey, now?: number): Promise<ClientView | null> {
    return this.#link.call('stats.show', [this.#instance, key, now])
  }

  close(): Promise<void> {
    return Promise.resolve()
  }
}
