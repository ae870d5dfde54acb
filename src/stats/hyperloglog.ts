import { createHash } from 'node:crypto'

/** Registers of a sketch: 2^P of them, about 1.04/sqrt(2^P) = 6.5 % standard error at P = 8. */
const P = 8
const M = 1 << P
const ALPHA = 0.7213 / (1 + 1.079 / M)

/**
 * A HyperLogLog sketch of distinct strings (Flajolet et al. 2007, with the small-range linear
 * counting correction), 256 bytes whatever the count. Written here because the npm sketches are
 * unmaintained; Redis's PFADD/PFCOUNT serve the same purpose on the Redis backend.
 */
export class HyperLogLog {
  readonly registers: Uint8Array

  constructor(registers?: Uint8Array) {
    this.registers = registers ?? new Uint8Array(M)
  }

  add(value: string): void {
    const h = createHash('sha1').update(value).digest()
    const x = h.readUInt32BE(0)
    const index = x >>> (32 - P)
    // Rank of the first 1 bit in the remaining 32 - P bits (plus 8 more bits when all are 0).
    const rest = ((x << P) | (h[4]! >>> (8 - P))) >>> 0
    const rank = rest === 0 ? 33 - P : Math.clz32(rest) + 1
    if (rank > this.registers[index]!) this.registers[index] = rank
  }

  /** Folds `other` into this sketch (the union of both sets). */
  merge(other: HyperLogLog): void {
    const a = this.registers
    const b = other.registers
    for (let i = 0; i < M; i++) if (b[i]! > a[i]!) a[i] = b[i]!
  }

  count(): number {
    let sum = 0
    let zeros = 0
    for (const r of this.registers) {
      sum += 2 ** -r
      if (r === 0) zeros++
    }
    const estimate = (ALPHA * M * M) / sum
    if (estimate <= 2.5 * M && zeros > 0) return Math.round(M * Math.log(M / zeros))
    return Math.round(estimate)
  }
}
