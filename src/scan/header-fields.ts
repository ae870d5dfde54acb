import { Headers } from '@zone-eu/mailsplit'
import libmime from 'libmime'
import addressparser from 'nodemailer/lib/addressparser'
import type { MessageData } from '../relay/message.js'

/** The top-level header fields of a message, parsed once and shared by the header checks. */
export interface HeaderFields {
  /** Unfolded values of every field with this name (case-insensitive), in order. */
  values(name: string): readonly string[]
  /** The first value with MIME encoded-words decoded (Subject), or null. */
  decoded(name: string): string | null
  /** Mailbox addresses (lower case) of every field with this name. */
  addresses(name: string): readonly string[]
}

/** Header blocks past this size are not read further (the message still relays as it is). */
const MAX_HEADER = 256 * 1024
const CR = 0x0d

const parsed = new WeakMap<MessageData, HeaderFields>()

/** The parsed header of a message (mailsplit's Headers, libmime, nodemailer's address parser). */
export function headerFields(message: MessageData): HeaderFields {
  let fields = parsed.get(message)
  if (!fields) {
    fields = parseHeader(message.raw)
    parsed.set(message, fields)
  }
  return fields
}

/**
 * Where the header block of a raw message ends: at the line break before the first empty
 * line (RFC 5322 section 2.1), CRLF or bare LF, looked for in the first 256 KB only; without
 * one, the header is those 256 KB (or the whole message, if shorter).
 */
export function headerEnd(raw: Buffer): number {
  const head = raw.subarray(0, MAX_HEADER)
  const crlf = head.indexOf('\n\r\n')
  // A bare-LF empty line counts only if it comes first; it is looked for up to the CRLF one.
  const lf = head.subarray(0, crlf === -1 ? head.length : crlf + 1).indexOf('\n\n')
  const at = lf === -1 ? crlf : lf
  if (at === -1) return head.length
  return at > 0 && head[at - 1] === CR ? at - 1 : at
}

/**
 * The header block of a raw message, without the line break that ends it (no copy).
 *
 * @example headerBlock(Buffer.from('Subject: hi\r\n\r\nbody')).toString() // 'Subject: hi'
 */
export function headerBlock(raw: Buffer): Buffer {
  return raw.subarray(0, headerEnd(raw))
}

/** Parses the header block at the start of a raw message; each field's values are worked out once. */
export function parseHeader(raw: Buffer): HeaderFields {
  const headers = new Headers(headerBlock(raw))
  const values = perName((name) => headers.get(name).map((line) => unfold(line.slice(line.indexOf(':') + 1))))
  const addresses = perName((name) => values(name).flatMap((v) => mailboxes(addressparser(v, { flatten: true }))))
  return {
    values,
    decoded(name) {
      const first = values(name)[0]
      return first === undefined ? null : libmime.decodeWords(first)
    },
    addresses,
  }
}

/** Remembers what `read` gave for each field name (case-insensitive). */
function perName(read: (name: string) => readonly string[]): (name: string) => readonly string[] {
  const seen = new Map<string, readonly string[]>()
  return (name) => {
    const key = name.toLowerCase()
    let found = seen.get(key)
    if (!found) {
      found = read(key)
      seen.set(key, found)
    }
    return found
  }
}

function mailboxes(list: ReturnType<typeof addressparser>): string[] {
  return list.flatMap((a) => (a.group ? mailboxes(a.group) : a.address ? [a.address.toLowerCase()] : []))
}

function unfold(value: string): string {
  return value.replace(/\r?\n[ \t]+/g, ' ').trim()
}
