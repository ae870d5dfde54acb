import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js'
import { proxyHeaderNotAllowed } from '../errors/replies.js'

// Adaptations of smtp-server 3.21 internals, pinned by wire tests
// (test/integration/replies-wire.test.ts, test/integration/greeting.test.ts,
// test/integration/proxy-protocol.test.ts).

const LEADING_ENHANCED = /^[245]\.\d{1,3}\.\d{1,3} /

// smtp-server replies whose table code or text is less precise than they should be.
const LIBRARY_REPLIES: { code: number; match: RegExp; text: string }[] = [
  // RFC 4954 section 6: encryption required for the requested authentication mechanism.
  { code: 538, match: /STARTTLS/, text: '5.7.11 Must issue a STARTTLS command first; AUTH is only accepted over TLS' },
  // A client that sends before the greeting (pregreet): a bot that does not speak SMTP.
  { code: 421, match: /You talk too soon$/, text: '4.7.0 Commands sent before the greeting; wait for the 220 greeting' },
]

function libraryReply(code: number, data: string | string[] | undefined): string | string[] | undefined {
  if (typeof data !== 'string') return data
  return LIBRARY_REPLIES.find((r) => r.code === code && r.match.test(data))?.text ?? data
}

/** Our own server option: ms to wait before the greeting (smtp-server hard-codes 100). */
export const GREET_PAUSE_OPTION = 'greetPauseMs'

/**
 * Our own server option: sees every reply of 400 or more sent to a session (by id), and may
 * answer with a 421 that is the reply to the client's next command, which closes the
 * connection (the hard error limit; Postfix's smtpd says it at its next command too).
 */
export const ERROR_REPLY_OPTION = 'onErrorReply'
export type ErrorReplyHook = (session: string, code: number, text: string) => { code: number; message: string } | null

interface ConnectionInternals {
  secure: boolean
  /** Set once the connection has sent a non-empty command line. */
  shgSpoke?: boolean
  /** The 421 that answers the next command: the session reached its hard error limit. */
  shgClosing?: { code: number; message: string } | null
  session: { id: string }
  _server: { options: { allowInsecureAuth?: boolean; [GREET_PAUSE_OPTION]?: number; [ERROR_REPLY_OPTION]?: ErrorReplyHook } }
  _setListeners(done: () => void): void
  connectionReady(): void
}

type ConnectionProto = ConnectionInternals & {
  send(this: ConnectionInternals, code: number, data?: string | string[], context?: string | false): void
  init(this: ConnectionInternals): void
  _onCommand(this: ConnectionInternals, command: Buffer | string, callback?: () => void): void
}

/** What a PROXY protocol header looks like to smtp-server's line reader: "PROXY …", or the v2 signature's "\0" line. */
const PROXY_V1 = /^PROXY /i
const PROXY_V2_LINE = '\u0000'

let installed = false

/**
 * Adapts smtp-server to the relay's rules:
 *
 * 1. Every reply carries an enhanced status code (RFC 2034/3463), ours and the library's own.
 *    With ENHANCEDSTATUSCODES advertised, smtp-server prefixes each reply with a code from its
 *    table, also replies whose text already starts with ours ("550 5.1.1 5.7.1 …"); a text
 *    that starts with an enhanced code is sent as written instead.
 * 2. AUTH is not advertised in EHLO before TLS (RFC 4954 section 4); a client that tries it
 *    anyway gets 538 5.7.11.
 * 3. The pause before the greeting is the listener's `greet_pause`. smtp-server always waits
 *    100 ms (to catch clients that talk first), which caps a client that opens a connection
 *    per message at 10 messages/s per connection; on an MX the operator may want longer.
 * 4. A PROXY protocol header on a connection that is not from a listed load balancer (those
 *    are read before the session starts, see proxy-listener.ts) is refused with 421 4.7.0,
 *    before or after the greeting: the client must not choose its own address. The v2
 *    signature reaches the line reader as two empty lines and a NUL line; empty lines before
 *    any command are ignored so that the NUL line gets the refusal.
 * 5. Every error reply, the library's own (syntax, sequence, unknown command) and ours, is
 *    shown to the listener's ERROR_REPLY_OPTION hook, which counts it; once it says so, the
 *    next command is answered with its 421 and the connection closes.
 */
export function installSmtpServerPatches(): void {
  if (installed) return
  installed = true
  const proto = SMTPConnection.prototype as unknown as ConnectionProto
  /* eslint-disable @typescript-eslint/unbound-method -- called below with the connection as `this` */
  const send = proto.send
  const init = proto.init
  const onCommand = proto._onCommand
  /* eslint-enable @typescript-eslint/unbound-method */
  proto.send = function patchedSend(code, data, context) {
    let text = libraryReply(code, data)
    if (code === 250 && Array.isArray(text) && !this.secure && !this._server.options.allowInsecureAuth) {
      text = text.filter((line) => !line.startsWith('AUTH '))
    }
    const ours = typeof text === 'string' && LEADING_ENHANCED.test(text)
    send.call(this, code, text, ours ? false : context)
    if (code < 400 || code === 421) return
    this.shgClosing ??= this._server.options[ERROR_REPLY_OPTION]?.(this.session.id, code, typeof text === 'string' ? text : '')
  }
  proto._onCommand = function patchedOnCommand(command, callback) {
    if (this.shgClosing) return send.call(this, this.shgClosing.code, this.shgClosing.message, false)
    if (!this.shgSpoke) {
      const line = command.toString()
      if (line === '') return callback?.()
      if (PROXY_V1.test(line) || line === PROXY_V2_LINE) {
        const refusal = proxyHeaderNotAllowed()
        return send.call(this, refusal.code, refusal.message, false)
      }
      this.shgSpoke = true
    }
    onCommand.call(this, command, callback)
  }
  proto.init = function patchedInit() {
    const pause = this._server.options[GREET_PAUSE_OPTION]
    if (pause === undefined) return init.call(this)
    // smtp-server's own init, with the pause from the option (its maxClients check is unused:
    // the relay counts connections per listener itself).
    this._setListeners(() => {
      if (pause <= 0) return this.connectionReady()
      setTimeout(() => this.connectionReady(), pause).unref()
    })
  }
}
