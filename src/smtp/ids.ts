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
  if (used + 5 > pool.length) {
    randomFillSync(pool)
    used = 0
  }
  let tail = ''
  for (let i = 0; i < 5; i++) tail += ALPHABET[(pool[used++] as number) % ALPHABET.length]
  return time + tail
}
