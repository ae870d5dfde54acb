import type { ScanLimits } from './types.js'

/** A message-wide limit was reached: the explosion stops where it is (flag scan_limit). */
export class LimitReached extends Error {
  constructor(readonly limit: 'objects' | 'total_bytes' | 'time') {
    super(`${limit} limit reached`)
  }
}

/**
 * What one message may still cost: objects, decoded bytes and time. Every decoder charges
 * its output here as it goes, so a bomb is stopped while it inflates, never after.
 */
export class Budget {
  readonly limits: ScanLimits
  readonly deadline: number
  objects = 0
  bytes = 0

  constructor(limits: ScanLimits, started = Date.now()) {
    this.limits = limits
    this.deadline = started + limits.timeMs
  }

  /** Bytes that may still be decoded. */
  get bytesLeft(): number {
    return Math.max(0, this.limits.totalBytes - this.bytes)
  }

  /** Throws when the time is up. */
  checkTime(): void {
    if (Date.now() > this.deadline) throw new LimitReached('time')
  }

  /** Counts one more object; throws past the object limit. */
  takeObject(): void {
    this.checkTime()
    if (this.objects >= this.limits.objects) throw new LimitReached('objects')
    this.objects++
  }

  /** Counts decoded bytes; throws past the byte limit or the deadline. */
  takeBytes(n: number): void {
    this.checkTime()
    if (this.bytes + n > this.limits.totalBytes) throw new LimitReached('total_bytes')
    this.bytes += n
  }
}

/** A cap of one decoder's output, and what to do past it: `over` must throw. */
export interface SinkCap {
  cap: number
  over: (size: number) => never
}

/**
 * Collects a decoder's output chunks, charging the budget as it goes; with a `limit`, within
 * its cap (an archive's expansion ratio).
 */
export class CappedSink {
  readonly chunks: Buffer[] = []
  size = 0

  constructor(
    private readonly budget: Budget,
    private readonly limit?: SinkCap,
  ) {}

  push(chunk: Uint8Array): void {
    if (this.limit && this.size + chunk.length > this.limit.cap) this.limit.over(this.size + chunk.length)
    this.budget.takeBytes(chunk.length)
    this.chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk))
    this.size += chunk.length
  }

  get buffer(): Buffer {
    return this.chunks.length === 1 && this.chunks[0] ? this.chunks[0] : Buffer.concat(this.chunks, this.size)
  }
}
