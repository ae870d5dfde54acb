import type { Alerting } from '../alerts/alerting.js'
import type { SessionOutcome } from '../alerts/session-feed.js'
import type { RelayEvents } from '../events/relay-events.js'

/** Feeds the alerting the outbound instance's session outcomes and transactions from the event stream. */
export function feedAlerting(events: RelayEvents, alerting: Alerting): void {
  // The rules read the outbound statistics: only its sessions teach classes and AUTH trails.
  events.onSession((e) => {
    if (e.session.instance === 'outbound') alerting.noteSession(e)
  })
  events.onTransaction((e) => {
    if (e.session.instance === 'outbound') alerting.noteTransaction(e)
  })
}

/** A session outcome or transaction a worker saw, for the primary's alerting (none when alerting is off). */
export function noteWorkerEvent(alerting: Alerting | undefined, kind: 'session' | 'transaction', note: SessionOutcome): void {
  if (!alerting) return
  if (kind === 'session') alerting.noteSession(note)
  else alerting.noteTransaction(note)
}
