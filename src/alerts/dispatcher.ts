import type { Logger } from 'pino'
import { alertDeliveries, alertOutboxOldest, alertOutboxSize } from '../metrics/alert-metrics.js'
import { backoffMs } from './backoff.js'
import type { Sender } from './sender.js'
import type { Delivery, Outbox } from './store.js'

const BATCH = 50

/**
 * Sends what the outbox holds: each due delivery to its sender, at most one at a time per
 * sender (events of an incident stay in order); confirmed ones leave, failed ones are retried
 * with backoff, for ever. A delivery whose sender is gone from the policy waits for it to return.
 */
export class Dispatcher {
  readonly #outbox: Outbox
  readonly #senders: Map<string, Sender>
  readonly #retry: { min: number; max: number }
  readonly #log: Logger
  #running: Promise<void> | null = null

  constructor(outbox: Outbox, senders: readonly Sender[], retry: { min: number; max: number }, log: Logger) {
    this.#outbox = outbox
    this.#senders = new Map(senders.map((s) => [s.name, s]))
    this.#retry = retry
    this.#log = log
  }

  get senders(): readonly Sender[] {
    return [...this.#senders.values()]
  }

  /** One pass over the due deliveries; a pass already running is shared. */
  run(now = Date.now()): Promise<void> {
    this.#running ??= this.#pass(now).finally(() => (this.#running = null))
    return this.#running
  }

  async #pass(now: number): Promise<void> {
    const due = (await this.#outbox.due(now, BATCH)).filter((d) => this.#senders.has(d.sender))
    const bySender = new Map<string, Delivery[]>()
    for (const d of due) bySender.set(d.sender, [...(bySender.get(d.sender) ?? []), d])
    await Promise.all([...bySender].map(([name, list]) => this.#sendAll(this.#senders.get(name)!, list)))
    await this.report()
  }

  async #sendAll(sender: Sender, list: Delivery[]): Promise<void> {
    for (const d of list) {
      try {
        await sender.send(d)
      } catch (err) {
        const error = (err as Error).message
        const wait = backoffMs(d.attempts + 1, this.#retry.min, this.#retry.max)
        alertDeliveries.labels(sender.name, 'failed').inc()
        this.#log.warn({ sender: sender.name, delivery: d.id, incident: d.incident_id, attempts: d.attempts + 1, retry_in_ms: wait, err: error }, 'incident delivery failed; retrying')
        await this.#outbox.retry(d, Date.now() + wait, error)
        // Later events of this sender wait too: they would likely fail the same way, and order matters.
        return
      }
      alertDeliveries.labels(sender.name, 'ok').inc()
      this.#log.info({ sender: sender.name, delivery: d.id, incident: d.incident_id, event: d.event }, 'incident delivered')
      await this.#outbox.done(d)
    }
  }

  /** Sets the outbox gauges. */
  async report(now = Date.now()): Promise<void> {
    const { size, oldest } = await this.#outbox.stats()
    alertOutboxSize.set(size)
    alertOutboxOldest.set(oldest === null ? 0 : Math.max(0, (now - oldest) / 1000))
  }
}
