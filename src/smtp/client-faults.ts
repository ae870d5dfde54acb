/**
 * A socket or TLS error that the client caused (it hung up, reset the connection, spoke
 * something other than TLS after STARTTLS, or failed the handshake): the client's fault, not
 * ours, so it is logged as one line at info or debug, never as an internal error with a stack.
 */
export interface ClientFault {
  /** `tls`: the TLS handshake or a TLS record failed; `gone`: the connection was cut. */
  kind: 'tls' | 'gone'
  /** One line for the log, e.g. "wrong version number" or "ECONNRESET". */
  reason: string
  /** The client's address, when the error carries it. */
  address: string | null
}

/** Codes of a connection the client cut (smtp-server's ECONNECTION: closed in the middle of DATA). */
const GONE = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNECTION', 'SocketError'])
/** smtp-server's own TLS codes; Node's OpenSSL errors are ERR_SSL_* or carry `library`. */
const TLS = new Set(['TLSError', 'ERR_TLS_HANDSHAKE_TIMEOUT', 'EPROTO'])

interface SocketError {
  code?: unknown
  reason?: unknown
  library?: unknown
  message?: unknown
  remoteAddress?: unknown
  meta?: { remoteAddress?: unknown; message?: unknown }
}

/** Classifies an error from a client's socket; null if it is not the client's doing. */
export function clientFault(err: unknown): ClientFault | null {
  if (!err || typeof err !== 'object') return null
  const e = err as SocketError
  const code = typeof e.code === 'string' ? e.code : ''
  const tls = TLS.has(code) || code.startsWith('ERR_SSL_') || typeof e.library === 'string'
  if (!tls && !GONE.has(code)) return null
  const address = typeof e.remoteAddress === 'string' ? e.remoteAddress : typeof e.meta?.remoteAddress === 'string' ? e.meta.remoteAddress : null
  return { kind: tls ? 'tls' : 'gone', reason: oneLine(e, code), address }
}

/** OpenSSL's short reason ("wrong version number") rather than its multi-part message. */
function oneLine(e: SocketError, code: string): string {
  if (typeof e.reason === 'string' && e.reason) return e.reason
  const text = typeof e.meta?.message === 'string' ? e.meta.message : typeof e.message === 'string' ? e.message : code
  return (text.split('\n')[0] ?? code).slice(0, 200) || code
}
