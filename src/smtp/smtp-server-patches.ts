import { isUtf8 } from 'node:buffer'
import type { Socket } from 'node:net'
import type { TLSSocket } from 'node:tls'
import { SMTPServer } from 'smtp-server'
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js'
import {
  commandTimeout,
  dataTimeout,
  dataTooSlow,
  greetingTimeout,
  invalidUtf8Address,
  messageTooBig,
  proxyHeaderNotAllowed,
  talkedBeforeGreeting,
  unauthPipelining,
} from '../errors/replies.js'
import type { SmtpReply } from '../errors/smtp-reply.js'

// Adaptations of smtp-server 3.21 internals, pinned by wire tests
// (test/integration/replies-wire.test.ts, test/integration/greeting.test.ts,
// test/integration/proxy-protocol.test.ts).

const LEADING_ENHANCED = /^[245]\.\d{1,3}\.\d{1,3} /

// smtp-server replies whose table code or text is less precise than they should be.
const LIBRARY_REPLIES: { code: number; match: RegExp; text: string }[] = [
  // RFC 4954 section 6: encryption required for the requested authentication mechanism.
  { code: 538, match: /STARTTLS/, text: '5.7.11 Must issue a STARTTLS command first; AUTH is only accepted over TLS' },
  // The library's own idle timeout (a backstop: the deadlines below end a silent client first).
  { code: 421, match: /^Timeout - closing connection$/, text: '4.4.2 Timeout waiting for the client; closing the connection' },
]

function libraryReply(code: number, data: string | string[] | undefined): string | string[] | undefined {
  if (typeof data !== 'string') return data
  return LIBRARY_REPLIES.find((r) => r.code === code && r.match.test(data))?.text ?? data
}

/** smtp-server's refusal of a MAIL FROM whose SIZE= is over the limit; it becomes our messageTooBig. */
const LIBRARY_SIZE_REFUSAL = /^Error: message exceeds fixed maximum message size (\d+)$/

/** Our own server option: ms to wait before the greeting (smtp-server hard-codes 100). */
export const GREET_PAUSE_OPTION = 'greetPauseMs'

/**
 * Our own server option: sees every reply of 400 or more sent to a session (by id), and may
 * answer with a 421 that is the reply to the client's next command, which closes the
 * connection (the hard error limit; Postfix's smtpd says it at its next command too).
 */
export const ERROR_REPLY_OPTION = 'onErrorReply'
export type ErrorReplyHook = (session: string, code: number, text: string) => { code: number; message: string } | null

/** Our own server option: refuse commands pipelined before the client may pipeline (see installSmtpServerPatches, 8). */
export const FORBID_UNAUTH_PIPELINING_OPTION = 'shgForbidUnauthPipelining'

/** Our own server option: told of a protocol violation that closed a connection (see installSmtpServerPatches, 8). */
export const PROTOCOL_FAULT_OPTION = 'shgOnProtocolFault'
export type ProtocolFault = 'pregreet' | 'unauth_pipelining'
export type ProtocolFaultHook = (session: string, address: string, fault: ProtocolFault) => void

/** Our own server option: the deadlines of a session's phases (see armDeadline). */
export const DEADLINES_OPTION = 'shgDeadlines'

/** A phase whose deadline passed. */
export type DeadlinePhase = 'greeting' | 'tls_handshake' | 'command' | 'data' | 'data_rate'

/** The deadlines of a listener's sessions, in ms (data_min_rate in bytes/s, 0 for none). */
export interface SessionDeadlines {
  greetingMs: number
  handshakeMs: number
  commandMs: number
  dataMs: number
  dataMinRate: number
  /** Told before the connection is cut, with the smtp-server session id and remote address. */
  onTimeout(id: string, address: string, phase: DeadlinePhase): void
  /** The reply as sent (with the operator's URL). */
  withUrl(reply: SmtpReply, id: string): SmtpReply
}

interface ServerOptions {
  allowInsecureAuth?: boolean
  [GREET_PAUSE_OPTION]?: number
  [DEADLINES_OPTION]?: SessionDeadlines
  [ERROR_REPLY_OPTION]?: ErrorReplyHook
  [FORBID_UNAUTH_PIPELINING_OPTION]?: boolean
  [PROTOCOL_FAULT_OPTION]?: ProtocolFaultHook
}

/** smtp-server's command line reader, as far as the patches use it. */
interface ParserInternals {
  write(chunk: unknown, ...rest: unknown[]): boolean
  _write(chunk: unknown, encoding: unknown, next: unknown): void
  /** Replies sent when the chunk now being read arrived (see installSmtpServerPatches, 8). */
  shgArrivedAfter?: number
}

interface ConnectionInternals {
  id: string
  remoteAddress: string
  secure: boolean
  /** Set once the connection has sent a non-empty command line. */
  shgSpoke?: boolean
  /** When our last reply was sent: the client owes the next command from then on. */
  shgRepliedAt?: number
  /** A STARTTLS handshake: since when, and the TLS socket (to end it at its deadline). */
  shgHandshake?: { since: number; socket: TLSSocket | null }
  /** The DATA phase: since when, and the rate allowance (ms) as of the last check. */
  shgData?: { since: number; checkedAt: number; bytes: number; allowance: number }
  shgTimer?: NodeJS.Timeout
  /** The 421 that answers the next command: the session reached its hard error limit. */
  shgClosing?: { code: number; message: string } | null
  /** Replies sent so far, the greeting included. */
  shgReplies?: number
  /** shgReplies once an EHLO reply advertised PIPELINING: input arriving after it may be pipelined. */
  shgPipeliningFrom?: number
  session: { id: string; [QUIT]?: boolean }
  _socket: Socket
  _ready: boolean
  _closing: boolean
  _closed: boolean
  _upgrading: boolean
  _handlerPending: boolean
  _dataStream: unknown
  _parser: ({ _dataMode: boolean; dataBytes: number } & ParserInternals) | false
  _server: { options: ServerOptions; _closeTimeout?: unknown }
  _setListeners(done: () => void): void
  _armTimeout(socket?: Socket): void
  connectionReady(): void
  close(): void
}

type ConnectionProto = ConnectionInternals & {
  send(this: ConnectionInternals, code: number, data?: string | string[], context?: string | false): void
  init(this: ConnectionInternals): void
  _onCommand(this: ConnectionInternals, command: Buffer | string, callback?: () => void): void
  _sendGreeting(this: ConnectionInternals): void
  _createParser(this: ConnectionInternals): ParserInternals
  _onClose(this: ConnectionInternals): void
  upgrade(this: ConnectionInternals, callback: () => void, secureCallback?: () => void): void
  handler_DATA(this: ConnectionInternals, command: Buffer | string, callback: () => void): void
  handler_QUIT(this: ConnectionInternals, command: Buffer | string, callback: () => void): void
}

/** Marks a session whose client said QUIT (smtp-server keeps no trace of it). */
const QUIT = Symbol('quit')

/** The client ended the session with QUIT (see installSmtpServerPatches, 7). */
export function saidQuit(session: object): boolean {
  return (session as { [QUIT]?: boolean })[QUIT] === true
}

/** smtp-server 3.21's implicit-TLS handshake of an accepted socket, before the session. */
interface ServerInternals {
  options: ServerOptions
  _pendingSockets: Map<Socket, Socket | TLSSocket>
  _upgrade(this: ServerInternals, socket: Socket, callback: (err: Error | null, tlsSocket?: TLSSocket) => void): void
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
 * 5. Every phase has a deadline that trickled bytes cannot extend (see armDeadline): the
 *    first command, each later command line, a TLS handshake (STARTTLS and implicit), and
 *    DATA as a whole and by rate. smtp-server's own timeout is an idle timer that any byte
 *    restarts, so a client sending one byte now and then held a connection for ever.
 * 6. Every error reply, the library's own (syntax, sequence, unknown command) and ours, is
 *    shown to the listener's ERROR_REPLY_OPTION hook, which counts it; once it says so, the
 *    next command is answered with its 421 and the connection closes.
 * 7. A QUIT is marked on the session, so that its end can say whether the client quit or went away.
 * 8. Early talkers and unauthorized pipelining (Postfix's postscreen pregreet test and
 *    smtpd_forbid_unauth_pipelining) get 554 5.5.0 and the connection closes. Whatever reached
 *    us before the greeting was written is an early talk, whatever the greet_pause: before the
 *    220 goes out the connection lets one poll of the event loop pass, so bytes that already
 *    arrived are read first (with no pause, smtp-server's own check would otherwise only see
 *    the ones that happened to be read before its onConnect finished). Each chunk read is
 *    stamped with the number of replies sent by then; a command from a chunk that arrived
 *    before the reply to an earlier command was sent was pipelined, which is allowed only
 *    when an EHLO reply advertising PIPELINING went out before it arrived.
 * 9. MAIL and RCPT lines that are not valid UTF-8 are refused (501 5.1.7 / 501 5.1.3), where
 *    smtp-server would decode them with U+FFFD in place of the bad bytes.
 * 10. smtp-server's refusal of a SIZE= over the limit at MAIL is our messageTooBig, with the
 *    operator's URL, like the refusal after DATA.
 */
export function installSmtpServerPatches(): void {
  if (installed) return
  installed = true
  const proto = SMTPConnection.prototype as unknown as ConnectionProto
  /* eslint-disable @typescript-eslint/unbound-method -- called below with the connection as `this` */
  const send = proto.send
  const init = proto.init
  const onCommand = proto._onCommand
  const sendGreeting = proto._sendGreeting
  const onClose = proto._onClose
  const upgrade = proto.upgrade
  const handleData = proto.handler_DATA
  const quit = proto.handler_QUIT
  const createParser = proto._createParser
  /* eslint-enable @typescript-eslint/unbound-method */
  proto.send = function patchedSend(code, data, context) {
    this.shgRepliedAt = Date.now()
    this.shgReplies = (this.shgReplies ?? 0) + 1
    if (code === 250 && Array.isArray(data) && data.includes('PIPELINING')) this.shgPipeliningFrom = this.shgReplies
    const size = code === 552 && typeof data === 'string' ? LIBRARY_SIZE_REFUSAL.exec(data) : null
    if (size) {
      const reply = this._server.options[DEADLINES_OPTION]?.withUrl(messageTooBig(Number(size[1])), this.id) ?? messageTooBig(Number(size[1]))
      ;[code, data] = [reply.code, reply.message]
    }
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
    const refusal = protocolRefusal(this, command)
    if (refusal) {
      sendRefusal(this, refusal)
      // A bad address is one refusal; a protocol violation ends the session (Postfix disconnects too).
      if (refusal.code !== 554) return callback?.()
      this._server.options[PROTOCOL_FAULT_OPTION]?.(this.id, this.remoteAddress, refusal.reason === 'pregreet' ? 'pregreet' : 'unauth_pipelining')
      return this.close()
    }
    onCommand.call(this, command, callback)
  }
  proto._createParser = function patchedCreateParser() {
    const parser = createParser.call(this)
    // Stamps each chunk, as it arrives, with the replies sent by then (see 8). A chunk is read
    // (_write) in arrival order; the parser's own re-reads of a remainder keep the stamp.
    const arrivals: { chunk: unknown; replies: number }[] = []
    const write = parser.write.bind(parser)
    const read = parser._write.bind(parser)
    parser.write = (chunk, ...rest) => {
      if (arrivals.length < MAX_STAMPS) arrivals.push({ chunk, replies: this.shgReplies ?? 0 })
      return write(chunk, ...rest)
    }
    parser._write = (chunk, encoding, next) => {
      if (arrivals[0]?.chunk === chunk) parser.shgArrivedAfter = arrivals.shift()?.replies
      read(chunk, encoding, next)
    }
    return parser
  }
  proto.handler_QUIT = function patchedQuit(command, callback) {
    this.session[QUIT] = true
    quit.call(this, command, callback)
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
  proto._sendGreeting = function patchedSendGreeting() {
    // One poll of the event loop before the greeting: input that already arrived is read while
    // the connection is not ready, and refused as an early talk (see 8).
    this._ready = false
    setImmediate(() =>
      setImmediate(() => {
        if (this._closing || this._closed) return
        this._ready = true
        sendGreeting.call(this)
        armDeadline(this)
      }),
    )
  }
  proto.handler_DATA = function patchedHandlerData(command, callback) {
    handleData.call(this, command, callback)
    if (!this._dataStream) return
    const now = Date.now()
    this.shgData = { since: now, checkedAt: now, bytes: 0, allowance: this._server.options[DEADLINES_OPTION]?.commandMs ?? 0 }
    armDeadline(this)
  }
  proto.upgrade = function patchedUpgrade(callback, secureCallback) {
    // The TLS socket is made inside; smtp-server arms its idle timer on it, which is where we see it.
    const handshake: { since: number; socket: TLSSocket | null } = { since: Date.now(), socket: null }
    this._armTimeout = (socket) => {
      handshake.socket = (socket as TLSSocket | undefined) ?? null
      proto._armTimeout.call(this, socket)
    }
    try {
      upgrade.call(this, callback, secureCallback)
    } finally {
      delete (this as Partial<ConnectionInternals>)._armTimeout
    }
    this.shgHandshake = handshake
    // RFC 3207 section 4.2: the client starts over with EHLO, which may advertise PIPELINING again.
    this.shgPipeliningFrom = undefined
    armDeadline(this)
  }
  proto._onClose = function patchedOnClose() {
    clearTimeout(this.shgTimer)
    onClose.call(this)
  }
  const server = SMTPServer.prototype as unknown as ServerInternals
  /* eslint-disable-next-line @typescript-eslint/unbound-method -- called below with the server as `this` */
  const serverUpgrade = server._upgrade
  server._upgrade = function patchedServerUpgrade(socket, callback) {
    const deadlines = this.options[DEADLINES_OPTION]
    // smtp-server's own handshake timer is an idle timer: a ClientHello sent a byte at a time restarts it.
    const timer = deadlines
      ? setTimeout(() => {
          deadlines.onTimeout('', socket.remoteAddress ?? '', 'tls_handshake')
          // The TLS socket, not the one under it: tearing a handshake down from below is unsafe.
          ;(this._pendingSockets.get(socket) ?? socket).destroy()
        }, deadlines.handshakeMs)
      : undefined
    timer?.unref()
    serverUpgrade.call(this, socket, (err, tlsSocket) => {
      clearTimeout(timer)
      callback(err, tlsSocket)
    })
  }
}

/** Arrival stamps kept per connection: a client that sends far ahead is refused long before. */
const MAX_STAMPS = 64

const ADDRESS_COMMAND = /^(MAIL|RCPT)\b/i
const SMTP_VERBS = new Set(['HELO', 'EHLO', 'MAIL', 'RCPT', 'DATA', 'BDAT', 'RSET', 'NOOP', 'QUIT', 'VRFY', 'EXPN', 'HELP', 'AUTH', 'STARTTLS'])

/**
 * The refusal of a command line for a protocol fault (see installSmtpServerPatches, 8 and 9),
 * or null: talking before the greeting, pipelining it may not, an address that is not UTF-8.
 */
function protocolRefusal(conn: ConnectionInternals, command: Buffer | string): SmtpReply | null {
  // A line buffered during a STARTTLS handshake is discarded by smtp-server itself.
  if (conn._upgrading || conn._server._closeTimeout) return null
  if (!conn._ready) return talkedBeforeGreeting()
  const line = typeof command === 'string' ? Buffer.from(command) : command
  const name = line.subarray(0, 5).toString('latin1').trim().toUpperCase()
  if (conn._server.options[FORBID_UNAUTH_PIPELINING_OPTION]) {
    const arrived = conn._parser ? conn._parser.shgArrivedAfter : undefined
    const may = conn.shgPipeliningFrom !== undefined && arrived !== undefined && arrived >= conn.shgPipeliningFrom
    if (arrived !== undefined && arrived < (conn.shgReplies ?? 0) && !may) return unauthPipelining(verbOf(line))
  }
  // A new HELO or EHLO: pipelining is allowed again only once its reply advertises it.
  if (name.startsWith('HELO') || name.startsWith('EHLO')) conn.shgPipeliningFrom = undefined
  const address = ADDRESS_COMMAND.exec(name)?.[1]
  if (address && !isUtf8(line)) return invalidUtf8Address(address === 'MAIL' ? 'sender' : 'recipient')
  return null
}

/** The command a line starts with, if it is an SMTP verb: a reply never echoes more (an AUTH continuation holds credentials). */
function verbOf(line: Buffer): string {
  const word = line.subarray(0, 10).toString('latin1').split(' ')[0]?.toUpperCase() ?? ''
  return SMTP_VERBS.has(word) ? word : 'a command'
}

/** Sends one of our refusals with the operator's URL. */
function sendRefusal(conn: ConnectionInternals, refusal: SmtpReply): void {
  const reply = conn._server.options[DEADLINES_OPTION]?.withUrl(refusal, conn.id) ?? refusal
  ;(SMTPConnection.prototype as unknown as ConnectionProto).send.call(conn, reply.code, reply.message, false)
}

/**
 * Checks the connection's deadline and sets the timer for the next check. One timer per
 * connection, moved only when it fires: a reply just records the time, so the hot path
 * pays nothing. What the client owes decides the deadline:
 * - the first command: greeting_timeout after the 220 greeting;
 * - each later command line: idle_timeout after our last reply (Postfix
 *   smtpd_per_record_deadline), however many bytes of it trickle in;
 * - a STARTTLS handshake: tls_handshake_timeout;
 * - DATA: data_timeout from the 354 to the final dot, and an allowance that starts at
 *   idle_timeout, shrinks with time and grows 1/data_min_rate s per byte, never beyond
 *   idle_timeout (Postfix smtpd_min_data_rate).
 * While the client waits for us (a check, a next hop), its own deadlines do not run: those
 * waits have their own limits (command_timeout, next hop timeouts).
 */
function armDeadline(conn: ConnectionInternals): void {
  clearTimeout(conn.shgTimer)
  const d = conn._server.options[DEADLINES_OPTION]
  if (!d || conn._closing || conn._closed) return
  const now = Date.now()
  const parser = conn._parser
  let due: number
  if (conn._upgrading && conn.shgHandshake) {
    due = conn.shgHandshake.since + d.handshakeMs
    if (now >= due) return cut(conn, d, 'tls_handshake')
  } else if (parser && parser._dataMode && conn.shgData) {
    const data = conn.shgData
    due = data.since + d.dataMs
    if (now >= due) return cut(conn, d, 'data')
    if (d.dataMinRate > 0) {
      const credit = ((parser.dataBytes - data.bytes) * 1000) / d.dataMinRate
      data.allowance = Math.min(d.commandMs, data.allowance - (now - data.checkedAt) + credit)
      data.checkedAt = now
      data.bytes = parser.dataBytes
      if (data.allowance <= 0) return cut(conn, d, 'data_rate')
      due = Math.min(due, now + data.allowance)
    }
  } else if (!conn._ready || conn._handlerPending || conn._dataStream || conn.shgRepliedAt === undefined) {
    due = now + Math.min(d.greetingMs, d.commandMs)
  } else {
    due = conn.shgRepliedAt + (conn.shgSpoke ? d.commandMs : d.greetingMs)
    if (now >= due) return cut(conn, d, conn.shgSpoke ? 'command' : 'greeting')
  }
  conn.shgTimer = setTimeout(armDeadline, Math.max(1, due - now), conn)
  conn.shgTimer.unref()
}

const seconds = (ms: number) => Math.round(ms / 100) / 10

/** Ends the connection at a passed deadline: 421 4.4.2 (which closes it), or mid-handshake just closes. */
function cut(conn: ConnectionInternals, d: SessionDeadlines, phase: DeadlinePhase): void {
  d.onTimeout(conn.id, conn.remoteAddress, phase)
  if (phase === 'tls_handshake') {
    // Nothing can be said in the middle of a handshake; ending the TLS socket ends the session.
    if (conn.shgHandshake?.socket) conn.shgHandshake.socket.destroy()
    else conn._socket.destroy()
    return
  }
  const replies: Record<Exclude<DeadlinePhase, 'tls_handshake'>, () => SmtpReply> = {
    greeting: () => greetingTimeout(seconds(d.greetingMs)),
    command: () => commandTimeout(seconds(d.commandMs)),
    data: () => dataTimeout(seconds(d.dataMs)),
    data_rate: () => dataTooSlow(d.dataMinRate),
  }
  const reply = d.withUrl(replies[phase](), conn.id)
  ;(SMTPConnection.prototype as unknown as ConnectionProto).send.call(conn, reply.code, reply.message, false)
}
