import { randomFillSync } from 'node:crypto'

const ALPHABET = '0123456789BCDFGHJKLMNPQRSTVWXYZ'

// Random bytes drawn from the kernel in batches: one getrandom() per 100 ids, not per id.
const pool = Buffer.alloc(500)
let used = pool.length

/**
 * A transaction id in the spirit of Postfix's long queue ids: time-ordered, 14 characters of
 * a vowel-free alphabet (no accidental words), unique across the nodes of a cluster.
 */
export function newId(now = Date.now()): string {
  let t = now
  let time = ''
  for (let i = 0; i < 9; i++) {
    time = ALPHABET[t % ALPHABET.length] + time
    t = Math.floor(t / ALPHABET.length)
  }
  let at = take(5)
  let tail = ''
  for (let i = 0; i < 5; i++) tail += ALPHABET[(pool[at++] as number) % ALPHABET.length]
  return time + tail
}

/** Where `n` unused random bytes start in the pool (refilled when short). */
function take(n: number): number {
  if (used + n > pool.length) {
    randomFillSync(pool)
    used = 0
  }
  used += n
  return used - n
}

const BASE32 = '0123456789abcdefghijklmnopqrstuv'

/**
 * A session id as smtp-server makes them (80 random bits as 16 base-32 digits), from the
 * batched pool: smtp-server draws randomBytes(10) from the kernel for every connection.
 */
export function newSessionId(): string {
  let at = take(16)
  let id = ''
  for (let i = 0; i < 16; i++) id += BASE32[(pool[at++] as number) & 31]
  return id
}
