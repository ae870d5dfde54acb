/** A seeded pseudo-random source (mulberry32): the same seed plays the same demo. */
export class Prng {
  #state: number

  constructor(seed: number) {
    this.#state = seed >>> 0
  }

  /** A number in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0
    let t = this.#state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1))
  }

  /** One element of a non-empty list. */
  pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.next() * list.length)] as T
  }

  /** A lower-case word of `length` letters and digits. */
  word(length: number): string {
    let s = ''
    for (let i = 0; i < length; i++) s += 'abcdefghijklmnopqrstuvwxyz0123456789'[this.int(0, 35)]
    return s
  }

  /** A wait with exponentially distributed length around `meanMs` (Poisson arrivals). */
  exponential(meanMs: number): number {
    return -Math.log(1 - this.next()) * meanMs
  }

  /** An independent source for a part of the demo, so one part's timing never shifts another's draws. */
  fork(salt: number): Prng {
    return new Prng(Math.imul(this.#state ^ 0x9e3779b9, 31) + salt * 7919)
  }
}
