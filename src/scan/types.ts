// What the scanner produces: the explosion tree of a message (every object with its metadata,
// flags and rule hits) and the message-level flags and hits the dispositioner decides on.
// Plain JSON, since reports cross the worker-thread boundary and end up in logs.

/** What a flag does to a message (scanner flags, rule flags, or any flag of the transaction). */
export type FlagAction =
  | { action: 'reject' }
  | { action: 'quarantine' }
  | { action: 'tempfail' }
  | { action: 'ignore' }
  | { action: 'tag'; score: number }

/**
 * Flags the exploder sets: what each does unless the policy's flag_actions say otherwise, and
 * what the customer is told when it decides the message. Rule metadata may add flags of its
 * own (`flags = "…"`).
 */
export const SCAN_FLAGS = {
  archive_bomb: {
    action: { action: 'reject' },
    description: 'an attached archive expands far beyond its own size (archive bomb)',
  },
  scan_limit: {
    action: { action: 'quarantine' },
    description: 'it is too large or too deeply nested to be checked (nesting, parts or size beyond the limits)',
  },
  encrypted_archive: {
    action: { action: 'tag', score: 3 },
    description: 'it carries a password-protected archive that cannot be checked; send the files unencrypted or by a download link',
  },
  malformed_mime: { action: { action: 'tag', score: 2 }, description: 'its MIME structure is malformed' },
  corrupt_archive: { action: { action: 'tag', score: 2 }, description: 'an attached archive is damaged' },
} as const satisfies Record<string, { action: FlagAction; description: string }>
export type ScanFlag = keyof typeof SCAN_FLAGS

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
