import type { ScryptHash } from './password.js'
import { hashPassword, parseHash, verifyPassword } from './password.js'

/** Parsed credentials file: user name → scrypt hash, plus any problems found. */
export interface ParsedCredentials {
  users: Map<string, ScryptHash>
  issues: string[]
}

/**
 * Parses a credentials file: one `user:$scrypt$...` per line, `#` comments and blank lines
 * ignored. Problems are reported as `file:line: what`.
 */
export function parseCredentials(file: string, text: string): ParsedCredentials {
  const users = new Map<string, ScryptHash>()
  const issues: string[] = []
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim()
    if (!line || line.startsWith('#')) return
    const colon = line.indexOf(':')
    const user = colon > 0 ? line.slice(0, colon) : ''
    const hash = colon > 0 ? parseHash(line.slice(colon + 1).trim()) : null
    if (!user || /\s/.test(user)) issues.push(`${file}:${i + 1}:1 expected "user:$scrypt$...", got no user name`)
    else if (!hash) issues.push(`${file}:${i + 1}:${colon + 2} ${user}: not a scrypt hash (make one with smarthost-guard passwd)`)
    else if (users.has(user)) issues.push(`${file}:${i + 1}:1 ${user}: listed twice`)
    else users.set(user, hash)
  })
  return { users, issues }
}

// Verifying an unknown user against a real hash keeps its timing equal to a wrong password.
let decoy: Promise<ScryptHash> | null = null
const decoyHash = () => (decoy ??= hashPassword('decoy').then((h) => parseHash(h) as ScryptHash))

/** Checks SMTP AUTH credentials against the file's users. */
export class Credentials {
  readonly #users: ReadonlyMap<string, ScryptHash>

  constructor(users: ReadonlyMap<string, ScryptHash>) {
    this.#users = users
  }

  get size(): number {
    return this.#users.size
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
