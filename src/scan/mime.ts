import { Splitter } from '@zone-eu/mailsplit'
import type { MimeNode } from '@zone-eu/mailsplit'
import type { Budget } from './budget.js'
import { CappedSink, LimitReached } from './budget.js'

/** One MIME node of a message, its body decoded (base64, quoted-printable). */
export interface MimePart {
  /** Index of the parent part in the list; null for the message's root node. */
  parent: number | null
  /** Nesting below the root node (0 for the root node). */
  level: number
  multipart: boolean
  declaredType: string
  filename: string | null
  /** Decoded body of a leaf; empty for a multipart node. */
  body: Buffer
}

/** What a message consists of, and what looked broken while reading it. */
export interface ParsedMime {
  parts: MimePart[]
  problems: string[]
}

const IDENTITY = new Set(['7bit', '8bit', 'binary'])
const KNOWN_ENCODINGS = new Set([...IDENTITY, 'base64', 'quoted-printable'])
// A header line is "name: value"; field names are printable ASCII without ":" (RFC 5322 section 2.2).
const HEADER_LINE = /^[\x21-\x39\x3b-\x7e]+[ \t]*:/
const NOT_BASE64 = /[^A-Za-z0-9+/=\s]/

interface Collected {
  node: MimeNode
  parent: number | null
  level: number
  chunks: Buffer[]
  children: number
}

/**
 * Splits a message into its MIME nodes with mailsplit (streaming, well-kept) and decodes the
 * leaves' bodies within the budget. Embedded message/rfc822 parts stay leaves: the caller
 * explodes them as messages of their own, so that nesting counts against the depth limit.
 * Problems (missing boundaries, unknown encodings, non-header lines, bad base64, parser
 * errors) are reported, never thrown: the caller flags them as malformed_mime.
 */
export async function parseMime(raw: Buffer, budget: Budget): Promise<ParsedMime> {
  const problems: string[] = []
  const collected: Collected[] = []
  const index = new Map<MimeNode, number>()
  const splitter = new Splitter({ ignoreEmbedded: true })
  let current: Collected | null = null
  try {
    splitter.end(raw)
    for await (const chunk of splitter as AsyncIterable<{ type: string; value?: Buffer } & Partial<MimeNode>>) {
      budget.checkTime()
      if (chunk.type === 'node') {
        const node = chunk as unknown as MimeNode
        const parentIndex = node.parentNode ? (index.get(node.parentNode) ?? null) : null
        const parent = parentIndex === null ? null : (collected[parentIndex] ?? null)
        if (parent) parent.children++
        current = { node, parent: parentIndex, level: parent ? parent.level + 1 : 0, chunks: [], children: 0 }
        index.set(node, collected.length)
        collected.push(current)
      } else if (chunk.type === 'body' && current && chunk.value) {
        current.chunks.push(chunk.value)
      }
    }
  } catch (err) {
    if (err instanceof LimitReached) throw err
    problems.push(`MIME parser: ${(err as Error).message}`)
  }
  const parts: MimePart[] = []
  for (const c of collected) {
    const node = c.node
    problems.push(...headerProblems(c, parts.length))
    let body: Buffer = Buffer.alloc(0)
    if (!node.multipart && c.chunks.length) {
      const encoding = node.encoding || '7bit'
      if (!KNOWN_ENCODINGS.has(encoding)) problems.push(`part ${parts.length}: unknown Content-Transfer-Encoding ${encoding}`)
      if (encoding === 'base64') {
        const text = joined(c.chunks).toString('latin1')
        if (NOT_BASE64.test(text)) problems.push(`part ${parts.length}: invalid characters in base64 content`)
        body = decodeBase64(text, budget)
      } else {
        body = await decode(node, c.chunks, budget)
      }
    }
    parts.push({
      parent: c.parent,
      level: c.level,
      multipart: Boolean(node.multipart),
      declaredType: node.contentType || 'text/plain',
      filename: node.filename || null,
      body,
    })
  }
  return { parts, problems }
}

function headerProblems(c: Collected, n: number): string[] {
  const out: string[] = []
  const node = c.node
  const lines = node.headers ? node.headers.getList() : []
  const bad = lines.find((l) => !HEADER_LINE.test(l.line))
  if (bad) out.push(`part ${n}: header line without a field name: ${JSON.stringify(bad.line.slice(0, 60))}`)
  if (node.multipart && !node._boundary) out.push(`part ${n}: multipart/${node.multipart} without a boundary`)
  else if (node.multipart && c.children === 0) out.push(`part ${n}: multipart/${node.multipart} with no parts (boundary never found)`)
  return out
}

function joined(chunks: readonly Buffer[]): Buffer {
  return chunks.length === 1 && chunks[0] ? chunks[0] : Buffer.concat(chunks)
}

/**
 * Decodes a base64 body with Node's own decoder (it skips line breaks and stray characters
 * as RFC 2045 section 6.8 asks), charging the budget.
 */
function decodeBase64(text: string, budget: Budget): Buffer {
  const body = Buffer.from(text, 'base64')
  budget.takeBytes(body.length)
  return body
}

/**
 * Decodes a part's body that is not base64, charging the budget: identity encodings as they
 * are, anything else (quoted-printable) through mailsplit's decoder stream.
 */
async function decode(node: MimeNode, chunks: readonly Buffer[], budget: Budget): Promise<Buffer> {
  const encoding = node.encoding || '7bit'
  if (IDENTITY.has(encoding)) {
    const body = joined(chunks)
    budget.takeBytes(body.length)
    return body
  }
  const decoder = node.getDecoder()
  // MIME decoding never expands, so only the message-wide budget caps it.
  const sink = new CappedSink(budget)
  const done = (async () => {
    for await (const chunk of decoder as AsyncIterable<Buffer>) sink.push(chunk)
  })()
  for (const chunk of chunks) decoder.write(chunk)
  decoder.end()
  await done
  return sink.buffer
}
