import { randomBytes } from 'node:crypto'

const ALPHABET = '0123456789BCDFGHJKLMNPQRSTVWXYZ'

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
  const rand = randomBytes(5)
  let tail = ''
  for (const b of rand) tail += ALPHABET[b % ALPHABET.length]
  return time + tail
}
