import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js'

const LEADING_ENHANCED = /^[245]\.\d{1,3}\.\d{1,3} /

// smtp-server replies whose table code is less precise than the RFC's.
const LIBRARY_REPLIES: Record<number, string> = {
  // RFC 4954 section 6: encryption required for the requested authentication mechanism.
  538: '5.7.11 Must issue a STARTTLS command first; AUTH is only accepted over TLS',
}

interface ConnectionInternals {
  secure: boolean
  _server: { options: { allowInsecureAuth?: boolean } }
}

let installed = false

/**
 * Adapts smtp-server's replies to the relay's reply rules.
 *
 * 1. Every reply carries an enhanced status code (RFC 2034/3463), ours and the library's own.
 *    With ENHANCEDSTATUSCODES advertised, smtp-server prefixes each reply with a code from its
 *    table, also replies whose text already starts with ours ("550 5.1.1 5.7.1 …"); a text
 *    that starts with an enhanced code is sent as written instead.
 * 2. AUTH is not advertised in EHLO before TLS (RFC 4954 section 4); a client that tries it
 *    anyway gets 538 5.7.11.
 *
 * A wire test pins both.
 */
export function installEnhancedCodes(): void {
  if (installed) return
  installed = true
  const proto = SMTPConnection.prototype as unknown as {
    send(this: ConnectionInternals, code: number, data?: string | string[], context?: string | false): void
  }
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with the connection as `this`
  const original = proto.send
  proto.send = function send(code, data, context) {
    let text = LIBRARY_REPLIES[code] ?? data
    if (code === 250 && Array.isArray(text) && !this.secure && !this._server.options.allowInsecureAuth) {
      text = text.filter((line) => !line.startsWith('AUTH '))
    }
    const ours = typeof text === 'string' && LEADING_ENHANCED.test(text)
    original.call(this, code, text, ours ? false : context)
  }
}
