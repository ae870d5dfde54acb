import type { Incident } from './incident.js'
import type { Delivery } from './store.js'

/** Delivers incident events to one receiver; resolves only once the receiver confirmed, throws otherwise (the outbox retries). */
export interface Sender {
  /** The sender's name: the outbox slot and the metrics label. */
  readonly name: string
  /** Whether this sender takes an event of the incident at all (the customer e-mail takes only some). */
  wants(incident: Incident, event: Delivery['event']): boolean
  send(d: Delivery): Promise<void>
}
