import type { AddressInfo } from 'node:net'
import { isDeepStrictEqual } from 'node:util'
import type { Logger } from 'pino'
import { startAlerting } from '../alerts/start.js'
import type { RunningAlerting } from '../alerts/start.js'
import type { InstancePolicy } from '../config/instance-policy.js'
import { configIssues, loadPolicy } from '../config/load.js'
import type { LoadedPolicy } from '../config/load.js'
import type { InstanceName, Policy } from '../config/schema.js'
import { INSTANCE_NAMES } from '../config/schema.js'
import { DnsServices } from '../dns/services.js'
import type { StateBackend } from '../limits/backend.js'
import type { PenaltyBox } from '../limits/penalty-box.js'
import type { RelayStats } from '../stats/relay-stats.js'
import type { StatsStore } from '../stats/store.js'
import { RelayEvents } from '../events/relay-events.js'
import { logEvents } from '../log/event-log.js'
import { createLogger, setLogFormat } from '../log/logger.js'
import type { AdminServer } from '../metrics/admin-server.js'
import { adminToken } from '../metrics/admin-token.js'
import { configReloadFailures, configReloads, ready } from '../metrics/relay-metrics.js'
import { ScanPools } from '../scan/scan-pools.js'
import type { Instance } from '../smtp/instance.js'
import type { BoundListener } from '../smtp/instance.js'
import { restrictUmask } from '../umask.js'
import type { SessionOutcome } from '../alerts/session-feed.js'
import { forwardAlertNotes } from '../cluster/alert-notes.js'
import { adminSettings, createAdminServer } from './admin.js'
import { feedAlerting, noteWorkerEvent } from './alert-feed.js'
import { Instances } from './instances.js'
import { warnMissingFiles } from './credentials-warning.js'
import type { ClusterRole, ReloadResult, ServiceOptions } from './options.js'
import { closeAfterDrain, openBackend, openStats } from './state-backends.js'

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
  readonly #instances: Instances
  readonly #cluster: ClusterRole | undefined
  #loaded: LoadedPolicy
  #token: string | null = null
  #dns: DnsServices
  #backend: StateBackend | null = null
  /** Per-client statistics, fed by `events`; null when the policy turns them off. */
  #stats: RelayStats | null = null
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
    this.admin = createAdminServer({
      ready: () => this.#state === 'ready' && !this.#workersDraining,
      token: () => this.#token,
      instances: () => this.#names,
      penaltyBox: (name) => this.penaltyBox(name),
      stats: () => this.#stats,
      log,
    })
    this.#scanPools = new ScanPools(log)
    this.#instances = new Instances({
      names: this.#names,
      cluster: this.#cluster,
      scanPools: this.#scanPools,
      events: this.events,
      resolver: () => this.#dns.resolver,
      log,
    })
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
    service.#dns.start({ egressWatch: service.#cluster?.role !== 'worker' })
    service.#backend = await openBackend(loaded, service.#cluster, log)
    service.#stats = await openStats(loaded, service.#names, service.#backend, service.events, log)
    await service.#instances.start(loaded, service.#dns, service.#backend)
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
      listedClassOf: (key) => service.#instances.listedClass(key),
      egress: () => service.#dns.egress.lastRound,
      admin: { server: service.admin, token: () => service.#token },
      log,
    })
    if (service.#alerting) feedAlerting(service.events, service.#alerting.alerting)
    const admin = adminSettings(service.#loaded, service.#names)
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

  /**
   * The penalty box of a running instance: what the admin API and CLI manage, and what
   * other features (alerting) call to put a client in the box.
   */
  penaltyBox(name: InstanceName): PenaltyBox | undefined {
    return this.#instances.penaltyBox(name)
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
    noteWorkerEvent(this.#alerting?.alerting, kind, note)
  }

  bound(): BoundListener[] {
    return this.#instances.bound()
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
      if (!backend || !isDeepStrictEqual(loaded.policy.state, this.#loaded.policy.state)) backend = await openBackend(loaded, this.#cluster, this.log)
      compiled = this.#instances.recompile(loaded, dns, backend)
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
    dns.start({ egressWatch: this.#cluster?.role !== 'worker' })
    this.#backend = backend
    if (statsChanged || backend !== previous) {
      await this.#stats?.close()
      this.#stats = await openStats(loaded, this.#names, backend, this.events, this.log)
    }
    if (previous && previous !== backend) closeAfterDrain(previous, loaded, this.#names)
    this.log.level = loaded.policy.log.level
    setLogFormat(this.log, loaded.policy.log.format)
    this.#scanPools.configure(loaded)
    const failed = await this.#instances.apply(compiled)
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
    await this.#instances.drain()
    this.#dns.stop()
    await this.#scanPools.close()
    await this.#alerting?.stop()
    if (this.#cluster?.role !== 'worker') await this.admin.close()
    await this.#stats?.close()
    await this.#backend?.close()
    this.log.info('stopped')
    this.log.flush()
  }
}
