import type { SessionOutcome } from '../alerts/session-feed.js'
import type { RelayEvents } from '../events/relay-events.js'
import type { PrimaryLink } from './primary-link.js'

/** Sends the outbound sessions' classes and AUTH attempts to the primary's alerting (a notice each, batched). */
export function forwardAlertNotes(events: RelayEvents, link: PrimaryLink): void {
  const slim = (e: SessionOutcome): SessionOutcome => ({
    time: e.time,
    stage: e.stage,
    outcome: e.outcome,
    user: e.user,
    session: { client: e.session.client, clientClass: e.session.clientClass, user: e.session.user },
  })
  events.onSession((e) => {
    if (e.session.instance === 'outbound') link.notify('alert.note', ['session', slim(e)])
  })
  events.onTransaction((e) => {
    if (e.session.instance === 'outbound') link.notify('alert.note', ['transaction', slim({ ...e, stage: 'data', outcome: e.tx.outcome ?? 'aborted', user: null })])
  })
}
