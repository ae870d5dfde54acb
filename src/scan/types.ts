// What the scanner produces: the explosion tree of a message (every object with its metadata,
// flags and rule hits) and the message-level flags and hits the dispositioner decides on.
// Plain JSON, since reports cross the worker-thread boundary and end up in logs.

/** Flags the exploder sets; rule metadata may add its own (`flags = "…"`). */
export const SCAN_FLAGS = ['archive_bomb', 'scan_limit', 'encrypted_archive', 'malformed_mime', 'corrupt_archive'] as const
export type ScanFlag = (typeof SCAN_FLAGS)[number]

/** Limits of one message's explosion, in plain units. */
export interface ScanLimits {
  depth: number
  objects: number
  totalBytes: number
  expansionRatio: number
  timeMs: number
  memoryBytes: number
}

/** Values YARA-X rules can use as externals, besides the per-object ones. */
export interface MessageExternals {
  client_class: string
  sender_domain: string
}

/** How an object came about. */
export type ObjectKind = 'message' | 'multipart' | 'part' | 'member' | 'decompressed'

/** One object of the explosion tree. */
export interface ScanObject {
  id: number
  parent: number | null
  depth: number
  kind: ObjectKind
  /** Content type the container declared (MIME Content-Type); null for archive members. */
  declaredType: string | null
  /** Content type from the magic bytes; null when nothing matched. */
  sniffedType: string | null
  filename: string | null
  /** Decoded size in bytes. */
  size: number
  sha256: string
  /** Flags set on this object, with what caused them. */
  flags: { flag: string; detail: string }[]
  /** Rules that matched this object. */
  hits: string[]
}

/** What a rule's metadata says a match means (rule meta `score`, `action`, `description`, `flags`). */
export interface RuleMeta {
  score: number
  action: 'tag' | 'quarantine' | 'reject'
  description: string
  flags: string[]
}

/** A rule that matched at least one object of the message. */
export interface RuleHit extends RuleMeta {
  rule: string
  /** Ids of the objects it matched. */
  objects: number[]
}

/** The outcome of scanning one message. */
export interface ScanReport {
  objects: ScanObject[]
  /** Every flag of the message with the first detail seen, in order of appearance. */
  flags: { flag: string; detail: string; object: number }[]
  hits: RuleHit[]
  /** Decoded bytes examined. */
  bytes: number
  ms: number
  /** False when a limit stopped the explosion early. */
  complete: boolean
  /** Engine and rule set that scanned it. */
  engine: string
  rules: string
}
