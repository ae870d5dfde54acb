import { extname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import type { Logger } from 'pino'
import { RelayError } from '../errors/relay-error.js'
import { scansInProgressFor } from '../metrics/scan-metrics.js'
import type { ScanRequest, ScanResponse } from './protocol.js'
import { limitReport } from './protocol.js'
import type { RuleSet } from './rule-set.js'
import type { MessageExternals, ScanLimits, ScanReport } from './types.js'

/** How many scanner threads, how many waiting scans, how much heap each thread gets. */
export interface PoolSettings {
  workers: number
  queue: number
  memoryBytes: number
}

interface Job {
  req: Omit<ScanRequest, 'rules'>
  rules: RuleSet
  /** A job still waiting at this time (ms epoch) is refused: its check has given up on it. */
  notAfter: number
  resolve: (report: ScanReport) => void
  reject: (err: Error) => void
}

interface Slot {
  worker: Worker
  job: Job | null
  known: Set<string>
  timer: NodeJS.Timeout | null
}

/** A scanner thread that has not answered this long after its time limit is replaced. */
const graceMs = (limitMs: number) => Math.max(1000, limitMs / 2)

/**
 * A bounded pool of scanner threads. Messages are scanned off the SMTP thread, one per
 * thread; up to `queue` more wait in order. A thread that overstays the message's time limit
 * is terminated and replaced (the message is flagged scan_limit), one that runs out of heap
 * likewise; a thread that crashes fails only its own scan.
 */
export class ScanPool {
  readonly #instance: string
  readonly #log: Logger
  readonly #slots: Slot[] = []
  readonly #queue: Job[] = []
  #settings: PoolSettings
  #nextId = 1
  #closed = false

  constructor(instance: string, settings: PoolSettings, log: Logger) {
    this.#instance = instance
    this.#settings = settings
    this.#log = log
  }

  /** Threads running and scans waiting. */
  get stats(): { workers: number; busy: number; queued: number } {
    return { workers: this.#slots.length, busy: this.#slots.filter((s) => s.job).length, queued: this.#queue.length }
  }

  /** Applies new settings (after a reload); threads over the new count retire when idle. */
  configure(settings: PoolSettings): void {
    this.#settings = settings
    for (const slot of this.#slots.filter((s) => !s.job).slice(settings.workers)) this.#retire(slot)
    this.#dispatch()
  }

  /** Scans a message; rejects with RELAY_ERR_SCAN_BUSY or RELAY_ERR_SCAN_FAILED on our own faults. */
  scan(
    raw: Uint8Array,
    rules: RuleSet,
    externals: MessageExternals,
    limits: ScanLimits,
    notAfter: number,
  ): Promise<ScanReport> {
    if (this.#closed) return Promise.reject(new RelayError('RELAY_ERR_SCAN_FAILED', ['the scanner is shut down']))
    const idle = this.#slots.some((s) => !s.job) || this.#slots.length < this.#settings.workers
    if (!idle && this.#queue.length >= this.#settings.queue) {
      return Promise.reject(new RelayError('RELAY_ERR_SCAN_BUSY', [this.#queue.length]))
    }
    return new Promise<ScanReport>((resolve, reject) => {
      // A copy of exactly the message bytes, handed over to the thread without another copy.
      const req = { id: this.#nextId++, raw: new Uint8Array(raw), externals, limits, started: Date.now() }
      this.#queue.push({ req, rules, notAfter, resolve, reject })
      scansInProgressFor(this.#instance).inc()
      this.#dispatch()
    }).finally(() => scansInProgressFor(this.#instance).dec())
  }

  /**
   * Starts every thread and has it compile the rule set now (by scanning an empty message), so
   * the first messages after a start or reload do not wait for it.
   */
  warm(rules: RuleSet, limits: ScanLimits): void {
    for (let i = 0; i < this.#settings.workers; i++) {
      this.scan(new Uint8Array(0), rules, { client_class: '', sender_domain: '' }, limits, Infinity).catch((err: unknown) =>
        this.#log.error({ err, instance: this.#instance }, 'scanner warm-up failed'),
      )
    }
  }

  /** Terminates every thread; scans in flight fail. */
  async close(): Promise<void> {
    this.#closed = true
    for (const job of this.#queue.splice(0)) job.reject(new RelayError('RELAY_ERR_SCAN_FAILED', ['the scanner is shut down']))
    await Promise.all(this.#slots.splice(0).map((s) => this.#stop(s, 'the scanner is shut down')))
  }

  #dispatch(): void {
    while (this.#queue.length) {
      const slot = this.#slots.find((s) => !s.job) ?? (this.#slots.length < this.#settings.workers ? this.#spawn() : null)
      if (!slot) return
      const job = this.#queue.shift() as Job
      if (Date.now() > job.notAfter) {
        job.reject(new RelayError('RELAY_ERR_SCAN_BUSY', [this.#queue.length + 1]))
        continue
      }
      this.#assign(slot, job)
    }
  }

  #assign(slot: Slot, job: Job): void {
    slot.job = job
    slot.worker.ref()
    const send = !slot.known.has(job.rules.id)
    const req: ScanRequest = {
      ...job.req,
      rules: { id: job.rules.id, engine: job.rules.engine, ...(send ? { source: job.rules.source } : {}) },
    }
    slot.known.add(job.rules.id)
    const limit = job.req.limits.timeMs
    slot.timer = setTimeout(() => {
      const detail = `time: the scan did not stop within ${limit} ms; the scanner thread was replaced`
      this.#log.warn({ instance: this.#instance, limitMs: limit }, 'scanner thread overstayed its time limit; replacing it')
      this.#finish(slot, (j) => j.resolve(limitReport(detail, j.rules.id, j.req.started)))
      this.#remove(slot)
      void slot.worker.terminate()
      this.#dispatch()
    }, limit + graceMs(limit))
    slot.worker.postMessage(req, [req.raw.buffer as ArrayBuffer])
  }

  /** Ends the slot's job (if any) with `settle` and marks the slot idle. */
  #finish(slot: Slot, settle: (job: Job) => void): void {
    if (slot.timer) clearTimeout(slot.timer)
    slot.timer = null
    const job = slot.job
    slot.job = null
    slot.worker.unref()
    if (job) settle(job)
  }

  #spawn(): Slot {
    const worker = startWorker(this.#settings.memoryBytes)
    const slot: Slot = { worker, job: null, known: new Set(), timer: null }
    worker.on('message', (res: ScanResponse) => {
      if (!slot.job || slot.job.req.id !== res.id) return
      this.#finish(slot, (job) => {
        if ('report' in res) job.resolve(res.report)
        else job.reject(new RelayError('RELAY_ERR_SCAN_FAILED', [res.error.split('\n')[0]]))
        if ('error' in res) this.#log.error({ instance: this.#instance, error: res.error }, 'scan failed')
      })
      if (this.#slots.indexOf(slot) >= this.#settings.workers) this.#retire(slot)
      this.#dispatch()
    })
    worker.on('error', (err: Error & { code?: string }) => {
      const oom = err.code === 'ERR_WORKER_OUT_OF_MEMORY'
      this.#log[oom ? 'warn' : 'error']({ err, instance: this.#instance }, oom ? 'scanner thread ran out of heap' : 'scanner thread crashed')
      this.#finish(slot, (job) =>
        oom
          ? job.resolve(limitReport(`memory: the scan needed more than ${this.#settings.memoryBytes} bytes of heap`, job.rules.id, job.req.started))
          : job.reject(new RelayError('RELAY_ERR_SCAN_FAILED', [err.message])),
      )
      this.#remove(slot)
      this.#dispatch()
    })
    worker.on('exit', () => {
      this.#finish(slot, (job) => job.reject(new RelayError('RELAY_ERR_SCAN_FAILED', ['the scanner thread exited'])))
      if (this.#remove(slot)) this.#dispatch()
    })
    worker.unref()
    this.#slots.push(slot)
    return slot
  }

  #remove(slot: Slot): boolean {
    const i = this.#slots.indexOf(slot)
    if (i < 0) return false
    this.#slots.splice(i, 1)
    return true
  }

  #retire(slot: Slot): void {
    this.#remove(slot)
    void slot.worker.terminate()
  }

  async #stop(slot: Slot, why: string): Promise<void> {
    this.#finish(slot, (job) => job.reject(new RelayError('RELAY_ERR_SCAN_FAILED', [why])))
    await slot.worker.terminate()
  }
}

/**
 * Starts a scanner thread with a bounded heap. From the TypeScript sources (tests, tsx) the
 * thread registers the same loader first, since Node 20 threads do not inherit it.
 */
function startWorker(memoryBytes: number): Worker {
  const ext = extname(fileURLToPath(import.meta.url))
  const entry = new URL(`./worker${ext}`, import.meta.url)
  const resourceLimits = { maxOldGenerationSizeMb: Math.max(32, Math.round(memoryBytes / 2 ** 20)), maxYoungGenerationSizeMb: 32 }
  if (ext !== '.ts') return new Worker(entry, { resourceLimits })
  const boot = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}) })`
  return new Worker(boot, { eval: true, resourceLimits })
}
