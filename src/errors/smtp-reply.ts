/** Longest reply line we send, without CRLF (RFC 5321 section 4.5.3.1.5 allows 512 with CRLF). */
const MAX_LINE = 510
const ENHANCED = /^([245])\.(\d{1,3})\.(\d{1,3})$/
const LEADING_ENHANCED = /^([245]\.\d{1,3}\.\d{1,3})\s+/
// Control characters would split the reply or forge log lines; see RFC 5321 section 4.2.
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\x00-\x1f\x7f]+/g

/**
 * An SMTP reply: basic code, enhanced status code (RFC 3463) and human text.
 *
 * smtp-server sends `${responseCode} ${message}`, so `message` carries the enhanced code.
 * `reason` is a short kebab-case token used to build the operator's "read more" URL.
 *
 * @example new SmtpReply(550, '5.7.1', 'Relay access denied', 'relay-denied')
 */
export class SmtpReply extends Error {
  readonly code: number
  readonly enhanced: string
  readonly text: string
  readonly reason: string

  constructor(code: number, enhanced: string, text: string, reason = 'policy') {
    const match = ENHANCED.exec(enhanced)
    if (!Number.isInteger(code) || code < 200 || code > 599) throw new TypeError(`bad SMTP code ${code}`)
    if (!match || match[1] !== String(code)[0]) {
      throw new TypeError(`enhanced code ${enhanced} does not agree with ${code}`)
    }
    const room = MAX_LINE - 4 - enhanced.length - 1
    const clean = cleanText(text).slice(0, room)
    // A reply is a value, not a fault: capturing a stack for each one (two per relayed
    // message) costs more than everything else SmtpReply does.
    const limit = Error.stackTraceLimit
    Error.stackTraceLimit = 0
    super(`${enhanced} ${clean}`)
    Error.stackTraceLimit = limit
    this.name = 'SmtpReply'
    this.code = code
    this.enhanced = enhanced
    this.text = clean
    this.reason = reason
  }

  /** smtp-server reads the reply code from this property. */
  get responseCode(): number {
    return this.code
  }

  get isTemporary(): boolean {
    return this.code >= 400 && this.code < 500
  }

  get isPermanent(): boolean {
    return this.code >= 500
  }

  /** The same reply with a "see <url>" pointer appended, if the text still fits. */
  withUrl(url: string | null | undefined): SmtpReply {
    if (!url || this.code < 400) return this
    const text = `${this.text}; see ${url}`
    if (4 + this.enhanced.length + 1 + text.length > MAX_LINE) return this
    return new SmtpReply(this.code, this.enhanced, text, this.reason)
  }

  /** The reply as it appears on the wire, without CRLF. */
  override toString(): string {
    return `${this.code} ${this.enhanced} ${this.text}`
  }

  toJSON(): string {
    return this.toString()
  }

  /**
   * Parses a reply line from another server ("550 5.1.1 text" or "550 text"), keeping its
   * meaning; a missing or contradictory enhanced code is derived from the basic code class.
   */
  static parse(line: string, fallbackCode = 451): SmtpReply {
    const m = /^([2-5]\d\d)[ -]?(.*)$/s.exec(line.trim())
    const code = m ? Number(m[1]) : fallbackCode
    let rest = m ? (m[2] ?? '') : line
    let enhanced = `${String(code)[0]}.0.0`
    const e = LEADING_ENHANCED.exec(rest)
    if (e?.[1] && e[1][0] === String(code)[0]) {
      enhanced = e[1]
      rest = rest.slice(e[0].length)
    }
    return new SmtpReply(code, enhanced, rest || 'no text', 'next-hop')
  }
}

function cleanText(text: string): string {
  return text.replace(UNSAFE, ' ').replace(/\s+/g, ' ').trim() || 'no text'
}
