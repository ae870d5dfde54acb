import { extname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import type { Logger } from 'pino'
import { RelayError } from '../errors/relay-error.js'
import { reportScansInProgress } from '../metrics/scan-metrics.js'
import type { ScanRequest, ScanResponse } from './protocol.js'
import { limitReport } from './protocol.js'
import type { RuleSet } from './rule-set.js'
import type { MessageExternals, ScanLimits, ScanReport } from './types.js'

/** How many scanner threads, how many waiting scans, how much heap each thread gets. */
export interface PoolSettings {
  workers: number
  queue: number
  memoryBytes: number
  /** How long past a message's time limit a silent thread is given before it is replaced (default: half the limit, at least 1 s). */
  graceMs?: number
}

interface Job {
  /** The request; its bytes are copied for each thread they are handed to (a copy is transferred). */
  req: Omit<ScanRequest, 'rules'>
  rules: RuleSet
  /** When the scan was asked for (ms epoch): a report the thread never gave counts its time from here. */
  started: number
  /** A job still waiting at this time (ms epoch) is refused: its check has given up on it. */
  notAfter: number
  resolve: (report: ScanReport) => void
  reject: (err: Error) => void
}

interface Slot {
  worker: Worker
  /** The message being scanned first, then the ones handed over behind it (at most HOLD). */
  jobs: Job[]
  known: Set<string>
  /** When the thread must have answered about the message it is on (ms epoch); 0 when idle. */
  deadline: number
}

/** How often the watchdog looks for threads past their deadline (one timer per pool, not per message). */
const WATCHDOG_MS = 100

/**
 * Messages a busy thread holds at once: the one it scans and those behind it, so that under
 * load it goes from one to the next without sleeping and being woken for each. A busy thread
 * is topped up only once it is down to REFILL_AT messages, with everything that fits in one
 * hand-over: a hand-over (postMessage) costs the SMTP thread about as much as a memory-backed
 * limit check, whether it carries one message or three.
 */
const HOLD = 4
const REFILL_AT = 1

/** A scanner thread that has not answered this long after its time limit is replaced. */
const graceMs = (limitMs: number) => Math.max(1000, limitMs / 2)

/**
 * A bounded pool of scanner threads. Messages are scanned off the SMTP thread, one at a time
 * per thread; up to `queue` more wait in order. A thread that overstays the message's time
 * limit is terminated and replaced (the message is flagged scan_limit), one that runs out of
 * heap likewise; a thread that crashes fails only the scan it was on.
 */
export class ScanPool {
  readonly #instance: string
  readonly #log: Logger
  readonly #slots: Slot[] = []
  readonly #queue: Job[] = []
  #settings: PoolSettings
  #nextId = 1
  #closed = false
  #inFlight = 0
  #watchdog: NodeJS.Timeout | null = null
  #dispatchSoon: NodeJS.Immediate | null = null

  constructor(instance: string, settings: PoolSettings, log: Logger) {
    this.#instance = instance
    this.#settings = settings
    this.#log = log
    reportScansInProgress(instance, () => this.#inFlight)
  }

  /** Threads running, threads busy, scans waiting (in the pool or behind another in a thread). */
  get stats(): { workers: number; busy: number; queued: number } {
    return { workers: this.#slots.length, busy: this.#slots.filter((s) => s.jobs.length).length, queued: this.#queue.length + this.#behind() }
  }

  /** Messages handed to a thread behind the one it is on. */
  #behind(): number {
    return this.#slots.reduce((n, s) => n + Math.max(0, s.jobs.length - 1), 0)
  }

  /** Applies new settings (after a reload); threads over the new count retire when idle. */
  configure(settings: PoolSettings): void {
    this.#settings = settings
    for (const slot of this.#slots.filter((s) => !s.jobs.length).slice(settings.workers)) this.#retire(slot)
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
    // Threads that would take a message now, against the messages not yet handed over.
    const free = this.#slots.filter((s) => !s.jobs.length).length + Math.max(0, this.#settings.workers - this.#slots.length)
    const waiting = Math.max(0, this.#queue.length - free) + this.#behind()
    if (this.#queue.length >= free && waiting >= this.#settings.queue) return Promise.reject(new RelayError('RELAY_ERR_SCAN_BUSY', [waiting]))
    this.#inFlight++
    return new Promise<ScanReport>((resolve, reject) => {
      const req = { id: this.#nextId++, raw, externals, limits }
      const done = () => this.#inFlight--
      this.#queue.push({
        req,
        rules,
        started: Date.now(),
        notAfter,
        resolve: (report) => (done(), resolve(report)),
        reject: (err) => (done(), reject(err)),
      })
      // After the sockets read in this turn of the event loop: the messages they completed go over together.
      if (!this.#dispatchSoon) this.#dispatchSoon = setImmediate(() => this.#dispatch())
    })
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
    if (this.#dispatchSoon) clearImmediate(this.#dispatchSoon)
    this.#dispatchSoon = null
    const gone = () => new RelayError('RELAY_ERR_SCAN_FAILED', ['the scanner is shut down'])
    for (const job of this.#queue.splice(0)) job.reject(gone())
    if (this.#watchdog) clearInterval(this.#watchdog)
    this.#watchdog = null
    await Promise.all(
      this.#slots.splice(0).map((slot) => {
        for (const job of slot.jobs.splice(0)) job.reject(gone())
        return slot.worker.terminate()
      }),
    )
  }

  #dispatch(): void {
    if (this.#dispatchSoon) clearImmediate(this.#dispatchSoon)
    this.#dispatchSoon = null
    const batches = new Map<Slot, Job[]>()
    while (this.#queue.length) {
      const slot = this.#pick(batches)
      if (!slot) break
      const job = this.#queue.shift() as Job
      if (Date.now() > job.notAfter) {
        job.reject(new RelayError('RELAY_ERR_SCAN_BUSY', [this.#queue.length + 1]))
        continue
      }
      const batch = batches.get(slot)
      if (batch) batch.push(job)
      else batches.set(slot, [job])
    }
    for (const [slot, jobs] of batches) this.#assign(slot, jobs)
  }

  /** An idle thread, a new one, or (every thread busy) the one with the shortest line that is due a refill. */
  #pick(batches: Map<Slot, Job[]>): Slot | null {
    const load = (s: Slot) => s.jobs.length + (batches.get(s)?.length ?? 0)
    const idle = this.#slots.find((s) => load(s) === 0)
    if (idle) return idle
    if (this.#slots.length < this.#settings.workers) return this.#spawn()
    const open = this.#slots.filter((s, i) => i < this.#settings.workers && s.jobs.length <= REFILL_AT && load(s) < HOLD)
    return open.sort((a, b) => load(a) - load(b))[0] ?? null
  }

  /** Hands jobs to a thread in one message. */
  #assign(slot: Slot, jobs: Job[]): void {
    const wasIdle = !slot.jobs.length
    slot.jobs.push(...jobs)
    if (wasIdle) {
      slot.worker.ref()
      this.#arm(slot)
    }
    const reqs = jobs.map((job): ScanRequest => {
      const send = !slot.known.has(job.rules.id)
      slot.known.add(job.rules.id)
      return {
        ...job.req,
        // Exactly the message bytes, in a buffer of their own that is moved to the thread, not copied
        // again; the job keeps the original in case the message goes to another thread.
        raw: new Uint8Array(job.req.raw),
        rules: { id: job.rules.id, engine: job.rules.engine, ...(send ? { source: job.rules.source } : {}) },
      }
    })
    try {
      slot.worker.postMessage(reqs, reqs.map((r) => r.raw.buffer as ArrayBuffer))
    } catch (err) {
      // The messages could not be handed over (they never reached the thread): fail them alone.
      for (const job of jobs) slot.jobs.splice(slot.jobs.indexOf(job), 1)
      for (const job of jobs) slot.known.delete(job.rules.id)
      if (!slot.jobs.length) {
        this.#disarm(slot)
        slot.worker.unref()
      }
      for (const job of jobs) job.reject(new RelayError('RELAY_ERR_SCAN_FAILED', [(err as Error).message]))
    }
  }

  /** Sets the hard time limit of the message the thread is on now (its time limit counts from its start there). */
  #arm(slot: Slot): void {
    const head = slot.jobs[0]
    if (!head) return
    const limit = head.req.limits.timeMs
    slot.deadline = Date.now() + limit + (this.#settings.graceMs ?? graceMs(limit))
    this.#watchdog ??= setInterval(() => this.#watch(), WATCHDOG_MS).unref()
  }

  #disarm(slot: Slot): void {
    slot.deadline = 0
  }

  /** Replaces the threads past their deadline; stops looking while no thread is busy. */
  #watch(): void {
    const now = Date.now()
    for (const slot of this.#slots.filter((s) => s.deadline && now > s.deadline)) {
      const limit = slot.jobs[0]?.req.limits.timeMs ?? 0
      const detail = `time: the scan did not stop within ${limit} ms; the scanner thread was replaced`
      this.#log.warn({ instance: this.#instance, limitMs: limit }, 'scanner thread overstayed its time limit; replacing it')
      this.#fail(slot, (job) => job.resolve(limitReport(detail, job.rules.id, job.started)))
      void slot.worker.terminate()
    }
    if (this.#watchdog && !this.#slots.some((s) => s.deadline)) {
      clearInterval(this.#watchdog)
      this.#watchdog = null
    }
  }

  /** The thread is gone or going: settle the message it was on, put the others back in line. */
  #fail(slot: Slot, settle: (job: Job) => void): void {
    this.#disarm(slot)
    const [head, ...behind] = slot.jobs.splice(0)
    this.#remove(slot)
    if (head) settle(head)
    this.#queue.unshift(...behind)
    this.#dispatch()
  }

  #spawn(): Slot {
    const worker = startWorker(this.#settings.memoryBytes)
    const slot: Slot = { worker, jobs: [], known: new Set(), deadline: 0 }
    worker.on('message', (res: ScanResponse) => {
      // A thread answers in the order it was given messages.
      const job = slot.jobs[0]
      if (!job || job.req.id !== res.id) return
      slot.jobs.shift()
      this.#disarm(slot)
      if ('report' in res) job.resolve(res.report)
      else {
        this.#log.error({ instance: this.#instance, error: res.error }, 'scan failed')
        job.reject(new RelayError('RELAY_ERR_SCAN_FAILED', [res.error.split('\n')[0]]))
      }
      if (slot.jobs.length) this.#arm(slot)
      else {
        slot.worker.unref()
        if (this.#slots.indexOf(slot) >= this.#settings.workers) this.#retire(slot)
      }
      this.#dispatch()
    })
    worker.on('error', (err: Error & { code?: string }) => {
      const oom = err.code === 'ERR_WORKER_OUT_OF_MEMORY'
      this.#log[oom ? 'warn' : 'error']({ err, instance: this.#instance }, oom ? 'scanner thread ran out of heap' : 'scanner thread crashed')
      this.#fail(slot, (job) =>
        oom
          ? job.resolve(limitReport(`memory: the scan needed more than ${this.#settings.memoryBytes} bytes of heap`, job.rules.id, job.started))
          : job.reject(new RelayError('RELAY_ERR_SCAN_FAILED', [err.message])),
      )
    })
    worker.on('exit', () => {
      if (this.#slots.includes(slot)) this.#fail(slot, (job) => job.reject(new RelayError('RELAY_ERR_SCAN_FAILED', ['the scanner thread exited'])))
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
