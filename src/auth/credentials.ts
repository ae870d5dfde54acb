import type { ScryptHash } from './password.js'
import { hashPassword, parseHash, verifyPassword } from './password.js'
import { parseSenderPattern, parseSenderPatterns } from './sender-patterns.js'
import type { SenderPattern } from './sender-patterns.js'

/** Parsed credentials file: user name → scrypt hash, the senders listed for users, and any problems found. */
export interface ParsedCredentials {
  users: Map<string, ScryptHash>
  /** User name → the envelope senders its line lists (third field), for mail.sender_login. */
  senders: Map<string, string[]>
  issues: string[]
}

/**
 * Parses a credentials file: one `user:$scrypt$...` per line, optionally followed by
 * `:sender,sender…` (addresses, @domain, .domain) that the user may send as; `#` comments
 * and blank lines ignored. Problems are reported as `file:line:column what`.
 */
export function parseCredentials(file: string, text: string): ParsedCredentials {
  const users = new Map<string, ScryptHash>()
  const senders = new Map<string, string[]>()
  const issues: string[] = []
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim()
    if (!line || line.startsWith('#')) return
    const colon = line.indexOf(':')
    const user = colon > 0 ? line.slice(0, colon) : ''
    // A scrypt hash holds no ":", so a second one starts the senders field.
    const rest = colon > 0 ? line.slice(colon + 1) : ''
    const second = rest.indexOf(':')
    const hash = colon > 0 ? parseHash((second < 0 ? rest : rest.slice(0, second)).trim()) : null
    if (!user || /\s/.test(user)) issues.push(`${file}:${i + 1}:1 expected "user:$scrypt$...", got no user name`)
    else if (!hash) issues.push(`${file}:${i + 1}:${colon + 2} ${user}: not a scrypt hash (make one with smarthost-guard passwd)`)
    else if (users.has(user)) issues.push(`${file}:${i + 1}:1 ${user}: listed twice`)
    else {
      users.set(user, hash)
      if (second < 0) return
      const column = colon + second + 3
      const listed = rest.slice(second + 1).split(',').map((s) => s.trim()).filter(Boolean)
      const bad = listed.filter((s) => parseSenderPattern(s) === null)
      if (bad.length) issues.push(`${file}:${i + 1}:${column} ${user}: not a sender address, @domain or .domain: ${bad.map((b) => JSON.stringify(b)).join(', ')}`)
      else senders.set(user, listed)
    }
  })
  return { users, senders, issues }
}

// Verifying an unknown user against a real hash keeps its timing equal to a wrong password.
let decoy: Promise<ScryptHash> | null = null
const decoyHash = () => (decoy ??= hashPassword('decoy').then((h) => parseHash(h) as ScryptHash))

/** Checks SMTP AUTH credentials against the file's users, and tells the senders the file lists for them. */
export class Credentials {
  readonly #users: ReadonlyMap<string, ScryptHash>
  readonly #senders: ReadonlyMap<string, readonly SenderPattern[]>

  constructor(users: ReadonlyMap<string, ScryptHash>, senders: ReadonlyMap<string, readonly string[]> = new Map()) {
    this.#users = users
    // Parsed once per policy load, so mail.sender_login keeps no cache of its own.
    this.#senders = new Map([...senders].map(([user, list]) => [user, parseSenderPatterns(list)]))
  }

  get size(): number {
    return this.#users.size
  }

  /** The envelope senders the file lists for `user`, parsed; undefined when its line lists none. */
  sendersOf(user: string): readonly SenderPattern[] | undefined {
    return this.#senders.get(user)
  }

  async verify(user: string, password: string): Promise<boolean> {
    const hash = this.#users.get(user)
    if (!hash) {
      await verifyPassword(password, await decoyHash())
      return false
    }
    return verifyPassword(password, hash)
  }
}
