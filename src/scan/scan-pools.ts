import { availableParallelism } from 'node:os'
import type { Logger } from 'pino'
import type { LoadedPolicy } from '../config/load.js'
import type { InstanceName } from '../config/schema.js'
import type { ScanConfig } from '../config/scan-schema.js'
import { scansContent } from './policy-rules.js'
import { ScanPool } from './pool.js'
import type { PoolSettings } from './pool.js'
import { buildRuleSet, ruleFilesIn } from './rule-set.js'
import { boundScanner, scanLimits } from './scanner.js'
import type { Scanner } from './scanner.js'

/** Threads for `workers: auto`: the SMTP thread keeps a core to itself (a thread per core costs more in hand-overs than it scans). */
function autoWorkers(): number {
  return Math.max(1, Math.min(4, availableParallelism() - 1))
}

const settings = (scan: ScanConfig): PoolSettings => ({
  workers: scan.workers === 'auto' ? autoWorkers() : scan.workers,
  queue: scan.queue,
  memoryBytes: scan.limits.memory,
})

/**
 * The scanner threads of a process, one pool per instance that scans content. Pools live
 * across reloads; each compiled policy gets a scanner bound to its own rule set and limits.
 */
export class ScanPools {
  readonly #pools = new Map<InstanceName, ScanPool>()
  readonly #log: Logger

  constructor(log: Logger) {
    this.#log = log
  }

  /**
   * The scanner of an instance of a loaded policy; undefined when the instance does not scan.
   * `warm` has every thread compile the rules now rather than at the first message.
   */
  scannerFor(loaded: LoadedPolicy, name: InstanceName, warm = true): Scanner | undefined {
    const config = loaded.policy.instances[name]
    if (!config || !scansContent(config)) return undefined
    let pool = this.#pools.get(name)
    if (!pool) {
      pool = new ScanPool(name, settings(config.scan), this.#log.child({ instance: name }))
      this.#pools.set(name, pool)
    }
    const rules = buildRuleSet(ruleFilesIn(config.scan.rules, loaded.files), config.scan.engine)
    const limits = scanLimits(config.scan.limits)
    if (warm) pool.warm(rules, limits)
    return boundScanner(pool, rules, limits, name)
  }

  /** Applies the thread and queue sizes of a policy that took effect. */
  configure(loaded: LoadedPolicy): void {
    for (const [name, pool] of this.#pools) {
      const config = loaded.policy.instances[name]
      if (config) pool.configure(settings(config.scan))
    }
  }

  /** Stops every scanner thread. */
  async close(): Promise<void> {
    await Promise.all([...this.#pools.values()].map((p) => p.close()))
    this.#pools.clear()
  }
}
