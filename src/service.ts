import type { AddressInfo } from 'node:net'
import type { Logger } from 'pino'
import { compileInstance } from './config/instance-policy.js'
import type { InstancePolicy } from './config/instance-policy.js'
import { configIssues, loadPolicy } from './config/load.js'
import type { LoadedPolicy } from './config/load.js'
import type { InstanceName } from './config/schema.js'
import { INSTANCE_NAMES } from './config/schema.js'
import { createResolver } from './dns/resolver.js'
import type { Resolver } from './dns/resolver.js'
import { createLogger } from './log/logger.js'
import { AdminServer } from './metrics/admin-server.js'
import { configReloadFailures, configReloads, ready } from './metrics/relay-metrics.js'
import type { CheckDeps } from './pipeline/types.js'
import { ScanPools } from './scan/scan-pools.js'
import { Instance } from './smtp/instance.js'
import type { BoundListener } from './smtp/instance.js'

/** How to start the relay. */
export interface ServiceOptions {
  configFile: string
  /** Instances to run; all defined ones when omitted. */
  instances?: readonly InstanceName[]
  /** Logger to use instead of one made from the policy's log level (tests). */
  log?: Logger
}

/** Result of a reload: applied, or refused with the reasons. */
export type ReloadResult = { ok: true } | { ok: false; issues: string[] }

/**
 * The running relay: its instances, the admin HTTP listener, reload and shutdown.
 * `smarthost-guard serve` is this plus signal handling.
 */
export class Service {
  readonly log: Logger
  readonly admin: AdminServer
  readonly #configFile: string
  readonly #names: readonly InstanceName[]
  readonly #instances = new Map<InstanceName, Instance>()
  #loaded: LoadedPolicy
  #resolver: Resolver
  #adminAddress: AddressInfo | null = null
  #state: 'starting' | 'ready' | 'draining' = 'starting'
  readonly #scanPools: ScanPools

  private constructor(loaded: LoadedPolicy, opts: ServiceOptions, log: Logger) {
    this.#configFile = opts.configFile
    this.#loaded = loaded
    this.log = log
    this.#names = opts.instances?.length ? opts.instances : INSTANCE_NAMES.filter((n) => loaded.policy.instances[n])
    this.#resolver = createResolver(dnsSettings(loaded))
    this.admin = new AdminServer({ ready: () => this.#state === 'ready', log })
    this.#scanPools = new ScanPools(log)
  }

  /** Loads the policy, starts the chosen instances and the admin listener. */
  static async start(opts: ServiceOptions): Promise<Service> {
    const loaded = await loadPolicy(opts.configFile, { instances: opts.instances })
    const log = opts.log ?? createLogger(loaded.policy.log.level)
    const service = new Service(loaded, opts, log)
    for (const name of service.#names) {
      if (!loaded.policy.instances[name]) throw new Error(`instance ${name} is not defined in ${loaded.file}`)
      const instance = new Instance(service.#compile(loaded, name), { log, resolver: () => service.#resolver })
      service.#instances.set(name, instance)
      await instance.start()
    }
    const admin = service.#adminSettings()
    service.#adminAddress = await service.admin.listen(admin.port, admin.address)
    log.info({ admin: service.#adminAddress, instances: service.#names }, 'smarthost-guard ready')
    service.#state = 'ready'
    ready.set(1)
    return service
  }

  get policyFile(): string {
    return this.#loaded.file
  }

  instance(name: InstanceName): Instance | undefined {
    return this.#instances.get(name)
  }

  bound(): BoundListener[] {
    return [...this.#instances.values()].flatMap((i) => i.bound())
  }

  get adminAddress(): AddressInfo | null {
    return this.#adminAddress
  }

  /**
   * Re-reads the policy file. A tree that fails validation is refused with the reasons and
   * the running one stays; otherwise each instance swaps in its new snapshot.
   */
  async reload(): Promise<ReloadResult> {
    let loaded: LoadedPolicy
    let resolver: Resolver
    let compiled: [Instance, InstancePolicy][]
    try {
      loaded = await loadPolicy(this.#configFile, { instances: this.#names })
      resolver = createResolver(dnsSettings(loaded))
      compiled = this.#names.map((name) => {
        const instance = this.#instances.get(name)
        if (!loaded.policy.instances[name]) throw new Error(`instance ${name} was removed; restart to stop it`)
        return [instance as Instance, this.#compile(loaded, name, resolver)]
      })
    } catch (err) {
      const issues = configIssues(err) ?? [(err as Error).message]
      configReloadFailures.inc()
      this.log.error({ code: 'RELAY_ERR_CONFIG_INVALID', issues }, 'reload refused; the running policy stays')
      return { ok: false, issues }
    }
    this.#loaded = loaded
    this.#resolver = resolver
    this.log.level = loaded.policy.log.level
    this.#scanPools.configure(loaded)
    for (const [instance, policy] of compiled) await instance.apply(policy, policy.config.limits.drain_timeout)
    configReloads.inc()
    this.log.info({ file: loaded.file }, 'policy reloaded')
    return { ok: true }
  }

  /** Stops accepting, lets transactions in flight finish within drain_timeout, closes. */
  async shutdown(): Promise<void> {
    if (this.#state === 'draining') return
    this.#state = 'draining'
    ready.set(0)
    this.log.info('draining')
    await Promise.all(
      [...this.#instances.values()].map((i) => i.drain(i.policy.config.limits.drain_timeout)),
    )
    await this.#scanPools.close()
    await this.admin.close()
    this.log.info('stopped')
    this.log.flush()
  }

  #compile(loaded: LoadedPolicy, name: InstanceName, resolver = this.#resolver): InstancePolicy {
    const scanner = this.#scanPools.scannerFor(loaded, name)
    const deps: CheckDeps = { resolver, log: this.log.child({ instance: name }), now: Date.now, ...(scanner ? { scanner } : {}) }
    return compileInstance(loaded, name, deps)
  }

  #adminSettings(): { address: string; port: number } {
    const only = this.#names.length === 1 ? this.#loaded.policy.instances[this.#names[0] as InstanceName] : undefined
    return only?.admin ?? this.#loaded.policy.admin
  }
}

function dnsSettings(loaded: LoadedPolicy) {
  const dns = loaded.policy.dns
  return { servers: dns.servers, timeoutMs: dns.timeout, tries: dns.tries }
}
