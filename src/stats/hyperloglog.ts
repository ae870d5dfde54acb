/** Registers of a sketch: 2^P of them, about 1.04/sqrt(2^P) = 3.3 % standard error at P = 10. */
const P = 10
const M = 1 << P
const ALPHA = 0.7213 / (1 + 1.079 / M)
/** Distinct values counted exactly before a counter turns into a sketch. */
const EXACT_MAX = 32

/** 32-bit FNV-1a of a string, finished with MurmurHash3's fmix32 so every bit depends on every input bit. */
export function hash32(value: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < value.length; i++) {
    h ^= value.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/**
 * Distinct strings counted in little memory: exactly (a short list of hashes) up to 32 values,
 * then as a HyperLogLog sketch (Flajolet et al. 2007, with the small-range linear-counting
 * correction) of 1 KiB whatever the count. Written here because the npm sketches are
 * unmaintained; Redis's PFADD/PFCOUNT serve the same purpose on the Redis backend.
 */
export class DistinctCounter {
  #exact: number[] | null = []
  #registers: Uint8Array | null = null

  add(value: string): void {
    this.#addHash(hash32(value))
  }

  #addHash(h: number): void {
    if (this.#exact) {
      if (this.#exact.includes(h)) return
      this.#exact.push(h)
      if (this.#exact.length <= EXACT_MAX) return
      const hashes = this.#exact
      this.#exact = null
      this.#registers = new Uint8Array(M)
      for (const x of hashes) this.#addHash(x)
      return
    }
    const r = this.#registers!
    const index = h >>> (32 - P)
    const rest = (h << P) >>> 0
    const rank = rest === 0 ? 33 - P : Math.clz32(rest) + 1
    if (rank > r[index]!) r[index] = rank
  }

  /** Folds `other` into this counter (the union of both sets). */
  merge(other: DistinctCounter): void {
    if (other.#exact) {
      for (const h of other.#exact) this.#addHash(h)
      return
    }
    if (this.#exact) {
      const hashes = this.#exact
      this.#exact = null
      this.#registers = new Uint8Array(M)
      for (const x of hashes) this.#addHash(x)
    }
    const a = this.#registers!
    const b = other.#registers!
    for (let i = 0; i < M; i++) if (b[i]! > a[i]!) a[i] = b[i]!
  }

  count(): number {
    if (this.#exact) return this.#exact.length
    let sum = 0
    let zeros = 0
    for (const r of this.#registers!) {
      sum += 2 ** -r
      if (r === 0) zeros++
    }
    const estimate = (ALPHA * M * M) / sum
    if (estimate <= 2.5 * M && zeros > 0) return Math.round(M * Math.log(M / zeros))
    return Math.round(estimate)
  }
}
