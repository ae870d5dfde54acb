import type { AddressInfo } from 'node:net'
import { isDeepStrictEqual } from 'node:util'
import type { Logger } from 'pino'
import { startAlerting } from './alerts/start.js'
import type { RunningAlerting } from './alerts/start.js'
import { compileInstance } from './config/instance-policy.js'
import type { InstancePolicy } from './config/instance-policy.js'
import { configIssues, loadPolicy } from './config/load.js'
import type { LoadedPolicy } from './config/load.js'
import type { InstanceName, Policy } from './config/schema.js'
import { INSTANCE_NAMES } from './config/schema.js'
import { DnsServices } from './dns/services.js'
import { addPenaltyApi } from './limits/admin-api.js'
import type { StateBackend } from './limits/backend.js'
import { InstanceState } from './limits/instance-state.js'
import type { PenaltyBox } from './limits/penalty-box.js'
import { openStateBackend } from './limits/state-backend.js'
import { addStatsApi } from './stats/admin-api.js'
import { RelayStats } from './stats/relay-stats.js'
import type { StatsStore } from './stats/store.js'
import { RelayEvents } from './events/relay-events.js'
import { logEvents } from './log/event-log.js'
import { createLogger, setLogFormat } from './log/logger.js'
import { AdminServer } from './metrics/admin-server.js'
import { adminToken } from './metrics/admin-token.js'
import { configReloadFailures, configReloads, ready } from './metrics/relay-metrics.js'
import type { CheckDeps } from './pipeline/types.js'
import { ScanPools } from './scan/scan-pools.js'
import { Instance } from './smtp/instance.js'
import type { BoundListener } from './smtp/instance.js'
import { restrictUmask } from './umask.js'
import { IpcBackend } from './cluster/ipc-backend.js'
import { IpcCounts } from './cluster/ipc-counts.js'
import type { PrimaryLink } from './cluster/primary-link.js'
import type { SessionOutcome } from './alerts/session-feed.js'
import { forwardAlertNotes } from './cluster/alert-notes.js'

/** How to start the relay. */
export interface ServiceOptions {
  configFile: string
  /** Instances to run; all defined ones when omitted. */
  instances?: readonly InstanceName[]
  /** Logger to use instead of one made from the policy's log level (tests). */
  log?: Logger
  /** This process's part in `serve --workers N`; absent: the whole relay in this one process. */
  cluster?: ClusterRole
}

/**
 * A process of `serve --workers N`. The primary holds the memory state, the statistics, the
 * alerting and the admin listener, and serves no SMTP; each worker serves SMTP on the shared
 * listeners, with its state through `link` (the memory backend) or on Redis directly.
 */
export type ClusterRole = { role: 'primary' } | { role: 'worker'; id: number; link: PrimaryLink }

/** Result of a reload: applied, or refused with the reasons. */
export type ReloadResult = { ok: true } | { ok: false; issues: string[] }

/**
 * The running relay: its instances, the admin HTTP listener, reload and shutdown.
 * `smarthost-guard serve` is this plus signal handling.
 */
export class Service {
  readonly log: Logger
  readonly admin: AdminServer
  /** Every session outcome and transaction of the process; the log is its first subscriber. */
  readonly events: RelayEvents
  readonly #configFile: string
  readonly #names: readonly InstanceName[]
  readonly #instances = new Map<InstanceName, Instance>()
  /** The primary's compiled policies: the penalty box and the lists its admin API and alerting use, with no listener. */
  readonly #compiled = new Map<InstanceName, InstancePolicy>()
  readonly #cluster: ClusterRole | undefined
  #loaded: LoadedPolicy
  #token: string | null = null
  #dns: DnsServices
  #backend: StateBackend | null = null
  /** Per-client statistics, fed by `events`; null when the policy turns them off. */
  #stats: RelayStats | null = null
  /** The shared state each compiled policy's checks use (its penalty box is the instance's). */
  readonly #states = new WeakMap<InstancePolicy, InstanceState>()
  #adminAddress: AddressInfo | null = null
  #state: 'starting' | 'ready' | 'draining' = 'starting'
  /** A primary whose workers drain: /readyz says so at once, before the primary's own shutdown. */
  #workersDraining = false
  readonly #scanPools: ScanPools
  #alerting: RunningAlerting | null = null

  private constructor(loaded: LoadedPolicy, opts: ServiceOptions, log: Logger, dns: DnsServices) {
    this.#configFile = opts.configFile
    this.#cluster = opts.cluster
    this.#loaded = loaded
    this.log = log
    this.events = new RelayEvents((err) => log.error({ err }, 'an event subscriber failed'))
    logEvents(this.events, log)
    this.#names = opts.instances?.length ? opts.instances : INSTANCE_NAMES.filter((n) => loaded.policy.instances[n])
    this.#dns = dns
    this.admin = new AdminServer({ ready: () => this.#state === 'ready' && !this.#workersDraining, log })
    addPenaltyApi(this.admin, {
      token: () => this.#token,
      instances: () => this.#names,
      penaltyBox: (name) => this.penaltyBox(name as InstanceName),
    })
    addStatsApi(this.admin, { token: () => this.#token, stats: () => this.#stats })
    this.#scanPools = new ScanPools(log)
  }

  /** Loads the policy, starts the chosen instances and the admin listener. */
  static async start(opts: ServiceOptions): Promise<Service> {
    restrictUmask()
    const loaded = await loadPolicy(opts.configFile, { instances: opts.instances })
    const base = opts.log ?? createLogger(loaded.policy.log.level, { format: loaded.policy.log.format })
    setLogFormat(base, loaded.policy.log.format)
    // A worker's lines say which worker wrote them.
    const log = opts.cluster?.role === 'worker' ? base.child({ worker: opts.cluster.id }) : base
    for (const warning of loaded.warnings) log.warn(warning)
    const service = new Service(loaded, opts, log, await DnsServices.create(loaded, log))
    service.#token = await adminToken(loaded, log)
    warnMissingFiles(loaded, service.#names, log)
    service.#dns.start()
    service.#backend = await service.#openBackend(loaded)
    await service.#openStats(loaded, service.#backend)
    for (const name of service.#names) {
      if (!loaded.policy.instances[name]) throw new Error(`instance ${name} is not defined in ${loaded.file}`)
      if (service.#cluster?.role === 'primary') {
        service.#compiled.set(name, service.#compile(loaded, name))
        continue
      }
      const counts = service.#cluster?.role === 'worker' ? new IpcCounts(service.#cluster.link) : undefined
      const instance = new Instance(service.#compile(loaded, name), { log, resolver: () => service.#dns.resolver, events: service.events, ...(counts ? { counts } : {}) })
      service.#instances.set(name, instance)
      await instance.start()
    }
    if (service.#cluster?.role === 'worker') {
      // Alerting runs once, in the primary: the sessions it learns classes and AUTH trails from go there.
      const link = service.#cluster.link
      if (loaded.policy.alerts?.enabled) forwardAlertNotes(service.events, link)
      log.info({ instances: service.#names }, 'worker ready')
      service.#state = 'ready'
      ready.set(1)
      return service
    }
    // Anomaly rules and incident delivery (policy `alerts`); its settings take effect at start.
    service.#alerting = await startAlerting({
      loaded,
      stats: service.#stats?.store('outbound') ?? null,
      backend: service.#backend,
      penaltyBox: () => service.penaltyBox('outbound'),
      // In a cluster the evaluating node sees only its own sessions: the lists class the others' clients.
      listedClassOf: (key) => service.#listedClass(key),
      egress: () => service.#dns.egress.lastRound,
      admin: { server: service.admin, token: () => service.#token },
      log,
    })
    const alerting = service.#alerting
    if (alerting) {
      // The rules read the outbound statistics: only its sessions teach classes and AUTH trails.
      service.events.onSession((e) => {
        if (e.session.instance === 'outbound') alerting.alerting.noteSession(e)
      })
      service.events.onTransaction((e) => {
        if (e.session.instance === 'outbound') alerting.alerting.noteTransaction(e)
      })
    }
    const admin = service.#adminSettings()
    service.#adminAddress = await service.admin.listen(admin.port, admin.address)
    // A primary is ready once its workers listen (announceReady).
    if (service.#cluster?.role !== 'primary') service.announceReady()
    return service
  }

  /** The workers of this primary stop accepting: not ready any more (/readyz 503), while their state calls are still answered. */
  workersDraining(): void {
    this.#workersDraining = true
    ready.set(0)
  }

  /** Says the relay is ready: the line `serve`'s callers wait for, /readyz 200. */
  announceReady(fields: Record<string, unknown> = {}): void {
    this.log.info({ admin: this.#adminAddress, instances: this.#names, ...fields }, 'smarthost-guard ready')
    this.#state = 'ready'
    ready.set(1)
  }

  get policyFile(): string {
    return this.#loaded.file
  }

  /** The policy tree in force (the last one loaded successfully). */
  get policy(): Policy {
    return this.#loaded.policy
  }

  /** The class the outbound network lists and CIDR overrides give an `address:` client key, if any. */
  #listedClass(key: string): string | undefined {
    if (!key.startsWith('address:')) return undefined
    const choice = this.#policyOf('outbound')?.classifier.atConnect(key.slice('address:'.length))
    return choice && choice.source !== 'default' ? choice.clientClass : undefined
  }

  /**
   * The penalty box of a running instance: what the admin API and CLI manage, and what
   * other features (alerting) call to put a client in the box.
   */
  penaltyBox(name: InstanceName): PenaltyBox | undefined {
    const policy = this.#policyOf(name)
    return policy ? this.#states.get(policy)?.penaltyBox : undefined
  }

  #policyOf(name: InstanceName): InstancePolicy | undefined {
    return this.#instances.get(name)?.policy ?? this.#compiled.get(name)
  }

  /** The state backend in force (the primary serves its workers' calls from it). */
  get backend(): StateBackend | null {
    return this.#backend
  }

  /** The statistics store of an instance, when the policy keeps statistics. */
  statsStore(instance: string): StatsStore | undefined {
    return this.#stats?.store(instance)
  }

  /** A session outcome or transaction a worker saw (the primary's alerting learns classes and AUTH trails from them). */
  noteFromWorker(kind: 'session' | 'transaction', note: SessionOutcome): void {
    const alerting = this.#alerting?.alerting
    if (!alerting) return
    if (kind === 'session') alerting.noteSession(note)
    else alerting.noteTransaction(note)
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
    let dns: DnsServices
    let compiled: [Instance, InstancePolicy][]
    const previous = this.#backend
    let backend = previous
    let token: string | null
    try {
      loaded = await loadPolicy(this.#configFile, { instances: this.#names })
      token = await adminToken(loaded, this.log)
      dns = await DnsServices.create(loaded, this.log, this.#dns)
      if (!backend || !isDeepStrictEqual(loaded.policy.state, this.#loaded.policy.state)) backend = await this.#openBackend(loaded)
      const state = backend
      compiled = this.#names.map((name) => {
        const instance = this.#instances.get(name)
        if (!loaded.policy.instances[name]) throw new Error(`instance ${name} was removed; restart to stop it`)
        const policy = this.#compile(loaded, name, dns, state)
        if (this.#cluster?.role === 'primary') this.#compiled.set(name, policy)
        return [instance as Instance, policy]
      })
    } catch (err) {
      if (backend !== previous) await backend?.close()
      const issues = configIssues(err) ?? [(err as Error).message]
      configReloadFailures.inc()
      this.log.error({ code: 'RELAY_ERR_CONFIG_INVALID', issues }, 'reload refused; the running policy stays')
      return { ok: false, issues }
    }
    const statsChanged = !isDeepStrictEqual(loaded.policy.stats, this.#loaded.policy.stats)
    this.#loaded = loaded
    this.#token = token
    warnMissingFiles(loaded, this.#names, this.log)
    this.#dns.stop()
    this.#dns = dns
    dns.start()
    this.#backend = backend
    if (statsChanged || backend !== previous) {
      await this.#stats?.close()
      await this.#openStats(loaded, backend)
    }
    // Sessions of the old policy may still count on the old backend until they drain.
    if (previous && previous !== backend) setTimeout(() => void previous.close(), loaded.policy.instances[this.#names[0] as InstanceName]?.limits.drain_timeout ?? 30_000).unref()
    this.log.level = loaded.policy.log.level
    setLogFormat(this.log, loaded.policy.log.format)
    this.#scanPools.configure(loaded)
    const failed: string[] = []
    // The primary has no listeners: its workers apply the policy to theirs.
    if (this.#cluster?.role !== 'primary') {
      for (const [instance, policy] of compiled) failed.push(...(await instance.apply(policy, policy.config.limits.drain_timeout)))
    }
    if (failed.length) {
      // The new policy runs, without the listeners that could not be opened: say so loudly.
      configReloadFailures.inc()
      this.log.error({ code: 'RELAY_ERR_LISTEN', issues: failed }, 'policy reloaded, but some listeners could not be opened')
      return { ok: false, issues: failed }
    }
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
    this.#dns.stop()
    await this.#scanPools.close()
    await this.#alerting?.stop()
    if (this.#cluster?.role !== 'worker') await this.admin.close()
    await this.#stats?.close()
    await this.#backend?.close()
    this.log.info('stopped')
    this.log.flush()
  }

  #compile(loaded: LoadedPolicy, name: InstanceName, dns = this.#dns, backend = this.#backend): InstancePolicy {
    const log = this.log.child({ instance: name })
    const config = loaded.policy.instances[name]
    const state =
      backend && config ? new InstanceState(backend, { instance: name, penaltyBox: config.penalty_box, log }) : undefined
    // The primary scans nothing: its workers do.
    const scanner = this.#cluster?.role === 'primary' ? undefined : this.#scanPools.scannerFor(loaded, name)
    const deps: CheckDeps = {
      resolver: dns.resolver,
      dns: dns.context(loaded, name),
      log,
      now: Date.now,
      ...(state ? { state } : {}),
      ...(scanner ? { scanner } : {}),
    }
    const policy = compileInstance(loaded, name, deps)
    if (state) this.#states.set(policy, state)
    return policy
  }

  /** The backend the policy names; a worker's memory backend is the primary's, over IPC. */
  #openBackend(loaded: LoadedPolicy): Promise<StateBackend> {
    if (this.#cluster?.role === 'worker' && loaded.policy.state.backend === 'memory') return Promise.resolve(new IpcBackend(this.#cluster.link))
    return openStateBackend(loaded, this.log)
  }

  /** Opens the statistics of the running instances on `backend` and feeds them the event stream. */
  async #openStats(loaded: LoadedPolicy, backend: StateBackend): Promise<void> {
    this.#stats = await RelayStats.open(loaded, this.#names, backend, this.log.child({ component: 'stats' }))
    this.#stats?.subscribe(this.events)
  }

  #adminSettings(): { address: string; port: number } {
    const only = this.#names.length === 1 ? this.#loaded.policy.instances[this.#names[0] as InstanceName] : undefined
    return only?.admin ?? this.#loaded.policy.admin
  }
}

/** A credentials file that does not exist yet means no SMTP AUTH users yet: said at start and on reload. */
function warnMissingFiles(loaded: LoadedPolicy, names: readonly InstanceName[], log: Logger): void {
  for (const name of names) {
    const file = loaded.policy.instances[name]?.relay.credentials
    if (file && !loaded.files.has(file)) {
      log.warn(
        { instance: name, file },
        `relay.credentials ${file} does not exist: no SMTP AUTH users yet (add one with: smarthost-guard passwd --user NAME >> ${file}; then smarthost-guard reload)`,
      )
    }
  }
}
