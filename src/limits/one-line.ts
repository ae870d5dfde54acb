// C0 and C1 controls, DEL, and the Unicode line separators and bidi overrides that would break
// a log line, an SMTP reply or a terminal, or show text in another order than it is stored.
const CONTROLS = '\\x00-\\x1f\\x7f-\\x9f\\u200e\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069'
const UNPRINTABLE = new RegExp(`\\s*(?:[${CONTROLS}]\\s*)+`, 'g')

/**
 * Text for one line of output: every run of control characters (with the white space around
 * it) becomes one space, and white space at either end goes.
 *
 * @example oneLine('spam\r\n\x1b[31mrun') // 'spam [31mrun'
 */
export function oneLine(text: string): string {
  return text.replace(UNPRINTABLE, ' ').trim()
}

const ANY_CONTROL = new RegExp(`[${CONTROLS}]`)

/** True when `text` holds a control character that oneLine() would replace. */
export function hasControl(text: string): boolean {
  return ANY_CONTROL.test(text)
}
