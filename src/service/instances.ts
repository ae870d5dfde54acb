import type { Logger } from 'pino'
import { IpcCounts } from '../cluster/ipc-counts.js'
import type { InstancePolicy } from '../config/instance-policy.js'
import type { LoadedPolicy } from '../config/load.js'
import type { InstanceName } from '../config/schema.js'
import type { Resolver } from '../dns/resolver.js'
import type { DnsServices } from '../dns/services.js'
import type { RelayEvents } from '../events/relay-events.js'
import type { StateBackend } from '../limits/backend.js'
import type { InstanceState } from '../limits/instance-state.js'
import type { PenaltyBox } from '../limits/penalty-box.js'
import type { ScanPools } from '../scan/scan-pools.js'
import { Instance } from '../smtp/instance.js'
import type { BoundListener } from '../smtp/instance.js'
import { compilePolicy } from './compile.js'
import type { ClusterRole } from './options.js'

/** What the instances run with besides their policy. */
export interface InstancesDeps {
  names: readonly InstanceName[]
  cluster: ClusterRole | undefined
  scanPools: ScanPools
  events: RelayEvents
  /** The resolver in force (a reload swaps the DNS services). */
  resolver: () => Resolver
  log: Logger
}

/**
 * The relay's chosen instances: each running with its listeners, or, in a cluster's primary,
 * only its compiled policy (its workers listen).
 */
export class Instances {
  readonly #d: InstancesDeps
  readonly #running = new Map<InstanceName, Instance>()
  /** The primary's compiled policies: the penalty box and the lists its admin API and alerting use, with no listener. */
  readonly #compiled = new Map<InstanceName, InstancePolicy>()
  /** The shared state each compiled policy's checks use (its penalty box is the instance's). */
  readonly #states = new WeakMap<InstancePolicy, InstanceState>()

  constructor(deps: InstancesDeps) {
    this.#d = deps
  }

  /** Compiles each instance of `loaded` and starts its listeners (the primary's only compile). */
  async start(loaded: LoadedPolicy, dns: DnsServices, backend: StateBackend | null): Promise<void> {
    const cluster = this.#d.cluster
    for (const name of this.#d.names) {
      if (!loaded.policy.instances[name]) throw new Error(`instance ${name} is not defined in ${loaded.file}`)
      if (cluster?.role === 'primary') {
        this.#compile(loaded, name, dns, backend)
        continue
      }
      const counts = cluster?.role === 'worker' ? new IpcCounts(cluster.link) : undefined
      const instance = new Instance(this.#compile(loaded, name, dns, backend), { log: this.#d.log, resolver: this.#d.resolver, events: this.#d.events, ...(counts ? { counts } : {}) })
      this.#running.set(name, instance)
      await instance.start()
    }
  }

  /** Compiles a reloaded policy for every instance, not applied yet; throws when one was removed. */
  recompile(loaded: LoadedPolicy, dns: DnsServices, backend: StateBackend | null): [Instance, InstancePolicy][] {
    return this.#d.names.map((name) => {
      const instance = this.#running.get(name)
      if (!loaded.policy.instances[name]) throw new Error(`instance ${name} was removed; restart to stop it`)
      return [instance as Instance, this.#compile(loaded, name, dns, backend)]
    })
  }

  /** Swaps the recompiled policies in; the listeners that could not be opened. */
  async apply(compiled: [Instance, InstancePolicy][]): Promise<string[]> {
    const failed: string[] = []
    // The primary has no listeners: its workers apply the policy to theirs.
    if (this.#d.cluster?.role !== 'primary') {
      for (const [instance, policy] of compiled) failed.push(...(await instance.apply(policy, policy.config.limits.drain_timeout)))
    }
    return failed
  }

  /** Stops accepting; transactions in flight finish within each instance's drain_timeout. */
  async drain(): Promise<void> {
    await Promise.all(
      [...this.#running.values()].map((i) => i.drain(i.policy.config.limits.drain_timeout)),
    )
  }

  bound(): BoundListener[] {
    return [...this.#running.values()].flatMap((i) => i.bound())
  }

  /** The penalty box of an instance. */
  penaltyBox(name: InstanceName): PenaltyBox | undefined {
    const policy = this.#policyOf(name)
    return policy ? this.#states.get(policy)?.penaltyBox : undefined
  }

  /** The class the outbound network lists and CIDR overrides give an `address:` client key, if any. */
  listedClass(key: string): string | undefined {
    if (!key.startsWith('address:')) return undefined
    const choice = this.#policyOf('outbound')?.classifier.atConnect(key.slice('address:'.length))
    return choice && choice.source !== 'default' ? choice.clientClass : undefined
  }

  #policyOf(name: InstanceName): InstancePolicy | undefined {
    return this.#running.get(name)?.policy ?? this.#compiled.get(name)
  }

  #compile(loaded: LoadedPolicy, name: InstanceName, dns: DnsServices, backend: StateBackend | null): InstancePolicy {
    // The primary scans nothing: its workers do.
    const scanner = this.#d.cluster?.role === 'primary' ? undefined : this.#d.scanPools.scannerFor(loaded, name)
    const { policy, state } = compilePolicy(loaded, name, { log: this.#d.log.child({ instance: name }), dns, backend, scanner })
    if (state) this.#states.set(policy, state)
    if (this.#d.cluster?.role === 'primary') this.#compiled.set(name, policy)
    return policy
  }
}
