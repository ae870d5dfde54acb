import type { Budget } from './budget.js'
import { LimitReached } from './budget.js'
import type { ScanFlag } from './types.js'

/** A child an archive gave up. */
export interface Member {
  filename: string | null
  data: Buffer
  /** The member stayed encrypted: `data` is empty, only its name is known. */
  locked?: boolean
}

/** A flag an archive set, with what caused it. */
export interface ExpansionFlag {
  flag: ScanFlag
  detail: string
}

/** What expanding one archive produced, and what it flagged. */
export interface Expansion {
  members: Member[]
  flags: ExpansionFlag[]
}

/** Outputs smaller than this are never judged by the expansion ratio (a tiny zip of text is fine). */
export const RATIO_FLOOR = 1024 * 1024

/** How far an archive may expand, and what going past it means. */
export interface ExpansionCap {
  /** Most bytes it may expand to: its expansion ratio, and never more than the message's remaining byte budget. */
  cap: number
  /** Most bytes it may expand to by the expansion ratio alone (past the floor): beyond it, archive_bomb. */
  byRatio: number
  /** True when the ratio is the tighter cap, so going over `cap` flags archive_bomb rather than scan_limit. */
  bomb: boolean
}

/**
 * How many bytes an archive of `size` bytes may expand to. The ratio is judged on its own,
 * whatever the byte budget left: a 10 MB archive that declares 10 GB is a bomb, not merely
 * over the budget.
 */
export function expansionCap(size: number, budget: Budget): ExpansionCap {
  const byRatio = Math.max(RATIO_FLOOR, Math.ceil(size * budget.limits.expansionRatio))
  const left = budget.bytesLeft
  return byRatio <= left ? { cap: byRatio, byRatio, bomb: true } : { cap: left, byRatio, bomb: false }
}

/**
 * Whether `produced` bytes inflated from at most `consumed` input bytes already show an
 * expansion beyond the ratio (past the floor): a stream decoder (gzip) stops a bomb early
 * this way, long before its output reaches the byte budget.
 */
export function beyondRatio(produced: number, consumed: number, budget: Budget): boolean {
  return produced > RATIO_FLOOR && produced > consumed * budget.limits.expansionRatio
}

/** The error a decoder throws when its output passes the cap. */
export class CapExceeded extends Error {
  constructor(readonly bomb: boolean, readonly size: number) {
    super(bomb ? 'expansion ratio exceeded' : 'byte budget exceeded')
  }
}

/**
 * What an error while expanding the archive `name` of `size` bytes means: past its expansion
 * cap (archive_bomb), past the message's byte budget (scan_limit), or a damaged archive or
 * `member` (corrupt_archive). The object and time limits stop the whole explosion, so their
 * errors are thrown on.
 */
export function archiveFailure(err: unknown, name: string, size: number, budget: Budget, member?: string): ExpansionFlag {
  if (err instanceof CapExceeded && err.bomb) {
    return { flag: 'archive_bomb', detail: `${name} expands beyond ${budget.limits.expansionRatio} times its ${size} bytes` }
  }
  if (err instanceof CapExceeded || (err instanceof LimitReached && err.limit === 'total_bytes')) {
    return { flag: 'scan_limit', detail: `total_bytes: ${name} expands beyond the bytes left to scan` }
  }
  if (err instanceof LimitReached) throw err
  return { flag: 'corrupt_archive', detail: `${member === undefined ? name : `${name}: ${member}`}: ${(err as Error).message}` }
}

/** How many more objects may be created: an archive stops listing members there. */
export function objectsLeft(budget: Budget, pending: number): number {
  return Math.max(0, budget.limits.objects - budget.objects - pending)
}
