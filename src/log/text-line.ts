/** Fields a text line shows in its prefix, or not at all. */
const PREFIX_FIELDS = new Set(['level', 'time', 'service', 'msg', 'instance', 'listener', 'sid', 'pid', 'hostname'])
const BARE = /^[^\s"=,\\]+$/

/**
 * One of pino's JSON lines as a text line, in the shape of the event lines:
 * `<time> <level> <instance>/<listener> <session>: <msg> key=value …`, `smarthost-guard` when
 * the line is not about an instance. Values with spaces, quotes or structure are JSON.
 *
 * @example textLine('{"level":"info","time":"…","instance":"outbound","msg":"listening","port":2525}')
 * // '… info outbound: listening port=2525\n'
 */
export function textLine(json: string): string {
  let o: Record<string, unknown>
  try {
    o = JSON.parse(json) as Record<string, unknown>
  } catch {
    return json
  }
  const instance = typeof o.instance === 'string' ? o.instance : null
  const where = instance ? (typeof o.listener === 'string' ? `${instance}/${o.listener}` : instance) : 'smarthost-guard'
  let line = `${String(o.time)} ${String(o.level)} ${where}${typeof o.sid === 'string' ? ` ${o.sid}` : ''}: ${typeof o.msg === 'string' ? o.msg : ''}`
  for (const key in o) {
    if (PREFIX_FIELDS.has(key)) continue
    line += ` ${key}=${textValue(key === 'err' ? errorText(o[key]) : o[key])}`
  }
  return `${line}\n`
}

/** A value as a text token: bare when it can be, else JSON (one line: newlines are escaped). */
export function textValue(v: unknown): string {
  if (typeof v === 'string') return BARE.test(v) ? v : JSON.stringify(v)
  if (v === null || typeof v !== 'object') return String(v)
  return JSON.stringify(v)
}

/** pino's serialized error as its stack (which starts with the message), else its message. */
function errorText(err: unknown): unknown {
  if (err && typeof err === 'object') {
    const e = err as { stack?: unknown; message?: unknown }
    return e.stack ?? e.message ?? err
  }
  return err
}
