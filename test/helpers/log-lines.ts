// Reads the relay's log lines back as objects, in either log.format: a JSON line is parsed; a
// text line "<time> <level> <instance>[/<listener>][ <id>]: <msg> key=value …" becomes
// { time, level, instance, listener, sid, msg, …fields }, so tests can look for a line by its
// message and fields whatever the format of the policy they run.

const TEXT = /^(\S+) ([a-z]+) ([\w-]+)(?:\/([\w-]+))?(?: ([\w.-]+))?: (.*)$/s
const KEY = /^([A-Za-z_][\w.]*)=/

export function parseLogLine(line: string): Record<string, unknown> {
  if (line.startsWith('{')) return JSON.parse(line) as Record<string, unknown>
  const m = TEXT.exec(line)
  if (!m) return { msg: line, text: line }
  const [, time, level, where, listener, id, rest = ''] = m
  const out: Record<string, unknown> = { time, level, text: line }
  if (where !== 'smarthost-guard') out.instance = where
  if (listener) out.listener = listener
  if (rest.startsWith('client=')) {
    // An event line: its summary is the message, as in JSON.
    out.msg = `${where}${listener ? `/${listener}` : ''} ${id ?? ''}: ${rest}`
    return out
  }
  if (id) out.sid = id
  for (let i = rest.indexOf(' '); i !== -1; i = rest.indexOf(' ', i + 1)) {
    if (!KEY.test(rest.slice(i + 1))) continue
    const fields = parsePairs(rest.slice(i + 1))
    if (fields) return { ...out, msg: rest.slice(0, i), ...fields }
  }
  return { ...out, msg: rest }
}

/** "a=1 b="x y" c={…}" as fields, or null when the text is not only such pairs. */
function parsePairs(s: string): Record<string, unknown> | null {
  const fields: Record<string, unknown> = {}
  let i = 0
  while (i < s.length) {
    const key = KEY.exec(s.slice(i))
    if (!key?.[1]) return null
    i += key[0].length
    const end = valueEnd(s, i)
    if (end === -1) return null
    const token = s.slice(i, end)
    try {
      fields[key[1]] = /^["{[]|^-?\d+(\.\d+)?$|^(true|false|null)$/.test(token) ? JSON.parse(token) : token
    } catch {
      return null
    }
    i = end
    if (i < s.length) {
      if (s[i] !== ' ') return null
      i++
    }
  }
  return fields
}

/** Where the value starting at `i` ends: a JSON string, object or array, or a bare token. */
function valueEnd(s: string, i: number): number {
  const open = s[i]
  if (open !== '"' && open !== '{' && open !== '[') {
    const space = s.indexOf(' ', i)
    return space === -1 ? s.length : space
  }
  let depth = 0
  let inString = false
  for (let j = i; j < s.length; j++) {
    const c = s[j]
    if (inString) {
      if (c === '\\') j++
      else if (c === '"') inString = false
    } else if (c === '"') inString = true
    else if (c === '{' || c === '[') depth++
    else if (c === '}' || c === ']') depth--
    if (!inString && depth === 0) return j + 1
  }
  return -1
}
