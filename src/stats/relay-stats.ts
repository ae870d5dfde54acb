import { join } from 'node:path'
import type { Logger } from 'pino'
import { IpcBackend } from '../cluster/ipc-backend.js'
import { IpcStatsStore } from '../cluster/ipc-stats-store.js'
import type { LoadedPolicy } from '../config/load.js'
import type { RelayEvents } from '../events/relay-events.js'
import type { StateBackend } from '../limits/backend.js'
import { RedisBackend } from '../limits/backend.js'
import { reportStatsClients, statsEvents } from '../metrics/stats-metrics.js'
import { MemoryStatsStore } from './memory-store.js'
import { clientKeys, sessionObservation, transactionObservation } from './observe.js'
import { RedisStatsStore } from './redis-store.js'
import type { StatsStore } from './store.js'

/**
 * The per-client statistics of a relay process: one store per instance (memory, or Redis when
 * the state backend is Redis), fed by the relay's event stream. Statistics never refuse mail:
 * a store's fault is logged and counted, never passed to a session.
 */
export class RelayStats {
  readonly #stores = new Map<string, StatsStore>()
  readonly #unsubscribe: (() => void)[] = []
  readonly #timer: NodeJS.Timeout | null

  private constructor(stores: Map<string, StatsStore>, snapshotMs: number | null, log: Logger) {
    this.#stores = stores
    this.#timer = snapshotMs ? setInterval(() => void this.#snapshot(log), snapshotMs).unref() : null
  }

  /** Opens a store per instance named, on the backend the state section chose. */
  static async open(loaded: LoadedPolicy, instances: readonly string[], backend: StateBackend, log: Logger): Promise<RelayStats | null> {
    const config = loaded.policy.stats
    if (!config.enabled) return null
    const stores = new Map<string, StatsStore>()
    for (const name of instances) {
      if (backend instanceof IpcBackend) {
        // A worker of `serve --workers N`: the primary keeps the figures (and their snapshot).
        stores.set(name, new IpcStatsStore(backend.link, name))
        continue
      }
      const snapshotFile = backend.kind === 'memory' && config.snapshot_dir ? join(config.snapshot_dir, `stats-${name}.jsonl`) : null
      const local = new MemoryStatsStore({ maxClients: config.max_clients, maxBaselines: config.max_baselines, snapshotFile })
      try {
        const n = await local.load()
        if (n) log.info({ instance: name, baselines: n, file: snapshotFile }, 'statistics baselines loaded')
      } catch (err) {
        log.warn({ instance: name, file: snapshotFile, err: { message: (err as Error).message } }, 'statistics snapshot not read; baselines start afresh')
      }
      stores.set(
        name,
        backend instanceof RedisBackend
          ? new RedisStatsStore(backend.client, name, local, log.child({ instance: name, stats: 'redis' }), { gate: (op) => backend.breaker.run('statistics', op) })
          : local,
      )
    }
    for (const [name, store] of stores) {
      const local = store instanceof RedisStatsStore ? store.local : store
      if (local instanceof MemoryStatsStore) reportStatsClients(name, () => local.size)
    }
    const snapshots = backend.kind === 'memory' && !(backend instanceof IpcBackend) && config.snapshot_dir
    return new RelayStats(stores, snapshots ? config.snapshot_every : null, log)
  }

  /** Feeds every session outcome and transaction of `events` to the instance's store. */
  subscribe(events: RelayEvents): void {
    this.#unsubscribe.push(
      // The samples carry each message's subject and Message-ID.
      events.wantEvidence(),
      events.onSession((e) => {
        const store = this.#stores.get(e.session.instance)
        const o = store && sessionObservation(e)
        if (!o) return
        store.observe(o.keys, o.observation)
        statsEvents.labels(e.session.instance, 'session').inc()
      }),
      events.onTransaction((e) => {
        const store = this.#stores.get(e.session.instance)
        const o = store && transactionObservation(e)
        if (!o) return
        store.observe(clientKeys(e.session, e.session.user, e.tx.mailFrom), o)
        statsEvents.labels(e.session.instance, 'transaction').inc()
      }),
    )
  }

  store(instance: string): StatsStore | undefined {
    return this.#stores.get(instance)
  }

  get instances(): string[] {
    return [...this.#stores.keys()]
  }

  async #snapshot(log: Logger): Promise<void> {
    for (const [name, store] of this.#stores) {
      if (!(store instanceof MemoryStatsStore)) continue
      try {
        await store.snapshot()
      } catch (err) {
        log.warn({ instance: name, err: { message: (err as Error).message } }, 'statistics snapshot not written')
      }
    }
  }

  async close(): Promise<void> {
    for (const off of this.#unsubscribe) off()
    if (this.#timer) clearInterval(this.#timer)
    for (const name of this.#stores.keys()) reportStatsClients(name, null)
    await Promise.all([...this.#stores.values()].map((s) => s.close()))
  }
}
