import type { Readable } from 'node:stream'

const CR = 0x0d
const LF = 0x0a

/** A message as received in DATA (dot-unstuffed by smtp-server), capped at the size limit. */
export interface MessageData {
  /** The message bytes; empty when the message went over the limit. */
  readonly raw: Buffer
  /** Bytes the client sent, including any beyond the limit. */
  readonly size: number
  /** The client sent more than the limit; `raw` is then empty and the rest was discarded. */
  readonly overLimit: boolean
  /** CR not followed by LF. */
  readonly bareCr: number
  /** LF not preceded by CR. */
  readonly bareLf: number
}

/**
 * Reads a DATA stream to its end, keeping at most `limit` bytes in memory. A message over the
 * limit is drained and dropped, so the client still gets its reply after the final dot.
 */
export async function readMessage(stream: Readable, limit: number): Promise<MessageData> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size <= limit) chunks.push(chunk)
    else chunks.length = 0
  }
  if (size > limit) return { raw: Buffer.alloc(0), size, overLimit: true, bareCr: 0, bareLf: 0 }
  const raw = chunks.length === 1 && chunks[0] ? chunks[0] : Buffer.concat(chunks, size)
  const { bareCr, bareLf } = countBareLineEndings(raw)
  return { raw, size, overLimit: false, bareCr, bareLf }
}

/** Counts CRs without a following LF and LFs without a preceding CR. */
export function countBareLineEndings(buf: Buffer): { bareCr: number; bareLf: number } {
  let bareCr = 0
  let bareLf = 0
  for (let i = buf.indexOf(CR); i !== -1; i = buf.indexOf(CR, i + 1)) {
    if (buf[i + 1] !== LF) bareCr++
  }
  for (let i = buf.indexOf(LF); i !== -1; i = buf.indexOf(LF, i + 1)) {
    if (i === 0 || buf[i - 1] !== CR) bareLf++
  }
  return { bareCr, bareLf }
}

/**
 * Rewrites every bare CR and bare LF of a received message as CRLF, so that no sequence such as
 * `\n.\n` or `\r.\r` can be read as the end of DATA by a next hop that is lenient about line
 * endings (SMTP smuggling). Returns the message's bytes when it has none (counted when read).
 */
export function normalizeLineEndings(message: MessageData): Buffer {
  const { raw: buf, bareCr, bareLf } = message
  if (bareCr === 0 && bareLf === 0) return buf
  const out = Buffer.allocUnsafe(buf.length + bareCr + bareLf)
  let o = 0
  for (let i = 0; i < buf.length; i++) {
    const b = buf[i] as number
    if (b === CR) {
      out[o++] = CR
      out[o++] = LF
      if (buf[i + 1] === LF) i++
    } else if (b === LF) {
      out[o++] = CR
      out[o++] = LF
    } else {
      out[o++] = b
    }
  }
  return out.subarray(0, o)
}
