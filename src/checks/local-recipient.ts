import { routingRefused, unknownRecipient } from '../errors/replies.js'
import { defineCoreCheck } from '../pipeline/types.js'

/** Flags of this check. */
export const RCPT_UNKNOWN = 'RCPT_UNKNOWN'
export const RCPT_ROUTING = 'RCPT_ROUTING'

/**
 * rcpt.local_recipient (core, instances with local domains): a recipient in a local domain
 * must be a valid local part (valid/invalid lists, invalid wins) and must not carry
 * sender-specified routing (u%ext@local, ext!u@local). Verdicts: reject 550 5.1.1 or
 * 550 5.7.1, or continue.
 */
export const localRecipient = defineCoreCheck({
  id: 'rcpt.local_recipient',
  stage: 'rcpt',
  description: 'Refuses unknown local recipients (550 5.1.1) and routing tricks in local addresses (550 5.7.1).',
  core: ({ localDomains }) => (localDomains.size > 0 ? localDomains : undefined),
  create: (localDomains) =>
    function localRecipientLookup({ rcpt }) {
      if (!rcpt) throw new Error('rcpt.local_recipient runs at the rcpt stage only')
      if (!rcpt.local) return { kind: 'continue', detail: 'not local' }
      switch (localDomains.lookup(rcpt.address)) {
        case 'valid':
          return { kind: 'continue', detail: 'valid local recipient' }
        case 'routing':
          return { kind: 'reject', reply: routingRefused(rcpt.address), flags: [RCPT_ROUTING] }
        case 'unknown':
          return { kind: 'reject', reply: unknownRecipient(rcpt.address), flags: [RCPT_UNKNOWN] }
      }
    },
})
