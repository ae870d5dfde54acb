import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto'
import type { ScryptOptions } from 'node:crypto'

// PHC string format: $scrypt$ln=14,r=8,p=1$<salt>$<hash>, salt and hash in unpadded base64.
// ln=14 (N=16384, 16 MiB, tens of ms) is the interactive-login cost of the scrypt paper.
const DEFAULT = { ln: 14, r: 8, p: 1 }
const KEY_LENGTH = 32
const PHC = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/

export interface ScryptHash {
  ln: number
  r: number
  p: number
  salt: Buffer
  hash: Buffer
}

function derive(password: string, salt: Buffer, p: { ln: number; r: number; p: number }, len: number): Promise<Buffer> {
  const N = 2 ** p.ln
  const options: ScryptOptions = { N, r: p.r, p: p.p, maxmem: 256 * N * p.r }
  return new Promise((resolve, reject) =>
    scrypt(password, salt, len, options, (err, key) => (err ? reject(err) : resolve(key))),
  )
}

/** Hashes a password for the credentials file. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16)
  const hash = await derive(password, salt, DEFAULT, KEY_LENGTH)
  return `$scrypt$ln=${DEFAULT.ln},r=${DEFAULT.r},p=${DEFAULT.p}$${b64(salt)}$${b64(hash)}`
}

/** Parses a PHC scrypt string; null when it is not one we can verify. */
export function parseHash(text: string): ScryptHash | null {
  const m = PHC.exec(text)
  if (!m) return null
  const [ln, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])]
  if (ln < 10 || ln > 20 || r < 1 || p < 1) return null
  return { ln, r, p, salt: Buffer.from(m[4] ?? '', 'base64'), hash: Buffer.from(m[5] ?? '', 'base64') }
}

/** Verifies a password in constant time with respect to the stored hash. */
export async function verifyPassword(password: string, stored: ScryptHash): Promise<boolean> {
  const key = await derive(password, stored.salt, stored, stored.hash.length)
  return timingSafeEqual(key, stored.hash)
}

const b64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '')
