import { relayDenied } from '../errors/replies.js'
import { defineCoreCheck } from '../pipeline/types.js'

/** Flag set when a client tried to relay without authorization. */
export const RELAY_DENIED = 'RELAY_DENIED'

/**
 * rcpt.relay_auth (core, every instance): a non-local recipient needs a client in the relay
 * networks or an authenticated user. Verdicts: reject 554 5.7.1, or continue.
 *
 * DANGER: this check is what keeps the relay from being an open relay. It runs first at
 * rcpt, cannot be put in warn mode and is never skipped by an `accept` of another check.
 */
export const relayAuth = defineCoreCheck({
  id: 'rcpt.relay_auth',
  stage: 'rcpt',
  description: 'Refuses non-local recipients unless the client is in relay.networks or authenticated (554 5.7.1).',
  core: () => ({}),
  create: () =>
    function relayAuthorization({ rcpt, session }) {
      if (!rcpt) throw new Error('rcpt.relay_auth runs at the rcpt stage only')
      if (rcpt.local) return { kind: 'continue', detail: 'local recipient' }
      if (session.user) return { kind: 'continue', detail: `authenticated as ${session.user}` }
      if (session.relayClient) return { kind: 'continue', detail: 'client in relay networks' }
      return { kind: 'reject', reply: relayDenied(rcpt.address), flags: [RELAY_DENIED], detail: rcpt.domain }
    },
})
