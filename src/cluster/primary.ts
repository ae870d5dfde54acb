import cluster from 'node:cluster'
import type { Worker } from 'node:cluster'
import { AggregatorRegistry } from 'prom-client'
import type { Logger } from 'pino'
import { registry } from '../metrics/registry.js'
import type { ReloadResult } from '../service/options.js'
import type { Service } from '../service/service.js'
import type { MetricsJson, PrimaryMessage, WorkerMessage } from './messages.js'
import { isClusterMessage } from './messages.js'
import { StateServer } from './state-server.js'

/** How long /metrics waits for a worker's figures; a worker that does not answer is left out of that scrape. */
const METRICS_TIMEOUT_MS = 2000
/** A worker that dies sooner than this after its start is restarted after a growing pause (a crash loop does not spin). */
const QUICK_DEATH_MS = 10_000

/**
 * The primary process of `serve --workers N`: forks the workers (which share its listeners
 * through node:cluster), answers their state calls from the service it runs without
 * listeners, aggregates /metrics, forwards reload and drain, and restarts a worker that dies.
 */
export class ClusterPrimary {
  readonly #service: Service
  readonly #log: Logger
  readonly #state: StateServer
  readonly #count: number
  readonly #workers = new Map<number, { worker: Worker; started: number; ready: boolean }>()
  readonly #metrics = new Map<number, { want: number; got: MetricsJson[]; done: () => void }>()
  #quickDeaths = 0
  #draining = false
  #metricsId = 0

  private constructor(service: Service, count: number) {
    this.#service = service
    this.#log = service.log
    this.#count = count
    this.#state = new StateServer(
      {
        backend: () => service.backend,
        stats: (instance) => service.statsStore(instance),
        note: (kind, note) => service.noteFromWorker(kind, note),
      },
      service.log.child({ component: 'cluster' }),
    )
    service.admin.metricsFrom(() => this.#clusterMetrics())
  }

  /** Forks `count` workers and waits until each listens; a worker that fails to start fails the start. */
  static async start(service: Service, count: number): Promise<ClusterPrimary> {
    const primary = new ClusterPrimary(service, count)
    cluster.on('message', (worker, message: unknown) => primary.#onMessage(worker, message))
    cluster.on('exit', (worker, code, signal) => primary.#onExit(worker, code, signal))
    for (let i = 0; i < count; i++) primary.#fork()
    await new Promise<void>((resolve, reject) => {
      primary.#whenAllReady = resolve
      primary.#startFailed = reject
    })
    primary.#startFailed = null
    service.announceReady({ workers: count })
    return primary
  }

  #whenAllReady: (() => void) | null = null
  #startFailed: ((err: Error) => void) | null = null

  /** Reloads the primary's policy; when it took, every worker reloads its own (each logs its reload). */
  async reload(): Promise<ReloadResult> {
    const result = await this.#service.reload()
    if (!result.ok) return result
    for (const { worker } of this.#workers.values()) send(worker, { t: 'reload' })
    return result
  }

  /** Drains every worker (their transactions in flight finish, their state calls still answered), then the primary. */
  async drain(deadlineMs: number): Promise<void> {
    if (this.#draining) return
    this.#draining = true
    this.#service.workersDraining()
    const exits = [...this.#workers.values()].map(({ worker }) => new Promise<void>((resolve) => {
      if (worker.isDead()) return resolve()
      worker.once('exit', () => resolve())
      send(worker, { t: 'drain' })
      // A worker stuck past its deadline (and a grace second) is killed: the primary must exit.
      setTimeout(() => worker.isDead() || worker.process.kill('SIGKILL'), deadlineMs + 5000).unref()
    }))
    await Promise.all(exits)
    await this.#service.shutdown()
  }

  #fork(): void {
    const worker = cluster.fork()
    this.#workers.set(worker.id, { worker, started: Date.now(), ready: false })
  }

  #onMessage(worker: Worker, message: unknown): void {
    if (!isClusterMessage<WorkerMessage>(message)) return
    switch (message.t) {
      case 'calls':
        this.#state.run(worker.id, message.calls).then(
          (answers) => answers.length && send(worker, { t: 'answers', answers }),
          (err: unknown) => this.#log.error({ err, worker: worker.id }, 'a worker call failed'),
        )
        return
      case 'ready': {
        const w = this.#workers.get(worker.id)
        if (w) w.ready = true
        if (this.#whenAllReady && [...this.#workers.values()].filter((x) => x.ready).length >= this.#count) {
          this.#whenAllReady()
          this.#whenAllReady = null
        }
        return
      }
      case 'metrics':
        this.#metrics.get(message.id)?.got.push(message.metrics)
        this.#metricsDone(message.id)
        return
      case 'drained':
        return
      case 'reloaded':
        if (!message.ok) this.#log.error({ worker: worker.id, issues: message.issues }, 'a worker could not apply the reloaded policy')
        return
    }
  }

  #onExit(worker: Worker, code: number | null, signal: string | null): void {
    const w = this.#workers.get(worker.id)
    this.#workers.delete(worker.id)
    this.#state.forget(worker.id)
    if (this.#draining) return
    if (this.#startFailed) {
      this.#startFailed(new Error(`worker ${worker.id} exited (${signal ?? code}) before it was ready`))
      return
    }
    const quick = w && Date.now() - w.started < QUICK_DEATH_MS
    this.#quickDeaths = quick ? this.#quickDeaths + 1 : 0
    const pause = Math.min(30_000, 500 * 2 ** Math.max(0, this.#quickDeaths - 1))
    this.#log.error({ code: 'RELAY_ERR_WORKER_EXITED', worker: worker.id, exit: code, signal, restart_in_ms: this.#quickDeaths ? pause : 0 }, 'a worker exited; starting another')
    if (this.#quickDeaths) setTimeout(() => this.#draining || this.#fork(), pause).unref()
    else this.#fork()
  }

  /** Every process's metrics (the primary's and each live worker's), counters summed, shared gauges not. */
  async #clusterMetrics(): Promise<string> {
    const id = ++this.#metricsId
    const live = [...this.#workers.values()].filter((w) => w.ready && !w.worker.isDead())
    const got: MetricsJson[] = []
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => finish(), METRICS_TIMEOUT_MS)
      const finish = () => {
        clearTimeout(timer)
        this.#metrics.delete(id)
        resolve()
      }
      this.#metrics.set(id, { want: live.length, got, done: finish })
      for (const { worker } of live) send(worker, { t: 'metrics', id })
      this.#metricsDone(id)
    })
    const own = (await registry.getMetricsAsJSON()) as MetricsJson
    return AggregatorRegistry.aggregate([own, ...got]).metrics()
  }

  #metricsDone(id: number): void {
    const pending = this.#metrics.get(id)
    if (pending && pending.got.length >= pending.want) pending.done()
  }
}

function send(worker: Worker, message: PrimaryMessage): void {
  // A worker that just died: its exit is handled by the exit event.
  if (worker.isConnected()) worker.send(message)
}
