import { format } from 'node:util'

/**
 * Internal fault codes and their message templates (fastify's FST_ERR_* catalog).
 * Their text is for logs and operators; a client only ever sees `451 4.3.0`.
 */
export const RELAY_ERRORS = {
  RELAY_ERR_CONFIG_INVALID: 'configuration is invalid:\n%s',
  RELAY_ERR_CONFIG_READ: 'cannot read configuration file %s: %s',
  RELAY_ERR_LISTEN: 'cannot listen on %s: %s',
  RELAY_ERR_CHECK_TIMEOUT: 'check %s did not answer within %d ms',
  RELAY_ERR_CHECK_FAILED: 'check %s failed: %s',
  RELAY_ERR_NEXTHOP_FAILED: 'next hop %s failed: %s',
  RELAY_ERR_SESSION: 'session %s failed: %s',
  RELAY_ERR_STATE_UNAVAILABLE: 'the shared state (%s) cannot serve %s: %s',
  RELAY_ERR_PROXY_HEADER: 'PROXY protocol header from %s refused: %s',
  RELAY_ERR_SCAN_BUSY: 'every scanner thread is busy and %d scans are waiting',
  RELAY_ERR_SCAN_FAILED: 'the content scan failed: %s',
  RELAY_ERR_QUARANTINE: 'the quarantine cannot keep message %s: %s',
  RELAY_ERR_WORKER_EXITED: 'worker %d exited (%s); another is started',
} as const

export type RelayErrorCode = keyof typeof RELAY_ERRORS

/** An internal fault with a catalogued code; `cause` keeps the original error. */
export class RelayError extends Error {
  readonly code: RelayErrorCode

  constructor(code: RelayErrorCode, args: readonly unknown[] = [], options?: { cause?: unknown }) {
    super(format(RELAY_ERRORS[code], ...args), options)
    this.name = 'RelayError'
    this.code = code
  }
}
