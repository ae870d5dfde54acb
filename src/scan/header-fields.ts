import { Headers } from '@zone-eu/mailsplit'
import libmime from 'libmime'
import addressparser from 'nodemailer/lib/addressparser'
import type { MessageData } from '../relay/message.js'

/** The top-level header fields of a message, parsed once and shared by the header checks. */
export interface HeaderFields {
  /** Unfolded values of every field with this name (case-insensitive), in order. */
  values(name: string): string[]
  /** The first value with MIME encoded-words decoded (Subject), or null. */
  decoded(name: string): string | null
  /** Mailbox addresses (lower case) of every field with this name. */
  addresses(name: string): string[]
}

/** Header blocks past this size are not read further (the message still relays as it is). */
const MAX_HEADER = 256 * 1024
const END = /\r?\n\r?\n/

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

/** Parses the header block at the start of a raw message. */
export function parseHeader(raw: Buffer): HeaderFields {
  const head = raw.subarray(0, MAX_HEADER).toString('latin1')
  const end = END.exec(head)
  const block = Buffer.from(end ? head.slice(0, end.index) : head, 'latin1')
  const headers = new Headers(block)
  const values = (name: string) => headers.get(name).map((line) => unfold(line.slice(line.indexOf(':') + 1)))
  return {
    values,
    decoded(name) {
      const first = values(name)[0]
      return first === undefined ? null : libmime.decodeWords(first)
    },
    addresses(name) {
      return values(name).flatMap((v) => mailboxes(addressparser(v, { flatten: true })))
    },
  }
}

function mailboxes(list: ReturnType<typeof addressparser>): string[] {
  return list.flatMap((a) => (a.group ? mailboxes(a.group) : a.address ? [a.address.toLowerCase()] : []))
}

function unfold(value: string): string {
  return value.replace(/\r?\n[ \t]+/g, ' ').trim()
}
