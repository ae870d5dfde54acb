import { fileTypeFromBuffer } from 'file-type'

/** What the magic bytes say an object is. */
export interface Sniffed {
  /** Content type, or null when neither a signature nor text was recognized. */
  type: string | null
  /** How to explode it further, if at all. */
  container: 'zip' | 'gzip' | 'tar' | null
}

const ZIP = Buffer.from('PK\x03\x04', 'latin1')
const GZIP = Buffer.from([0x1f, 0x8b])
const TEXT_PROBE = 4096
// The signatures file-type knows sit near the start (Office formats: the first zip member);
// given a whole archive it would walk every member looking for data descriptors.
const SIGNATURE_PROBE = 8 * 1024

/**
 * Sniffs an object's type from its bytes with file-type (PE, ELF, Mach-O, Office, archives,
 * LNK, …), falling back to text/plain or text/html for NUL-free content. Any zip-based format
 * (docx, docm, jar, apk, …) is exploded as a zip: its members are where macros and payloads sit.
 */
export async function sniff(data: Uint8Array): Promise<Sniffed> {
  const found = data.length ? await fileTypeFromBuffer(data.subarray(0, SIGNATURE_PROBE)) : undefined
  const head = Buffer.from(data.buffer, data.byteOffset, Math.min(data.length, TEXT_PROBE))
  const container = head.subarray(0, 4).equals(ZIP)
    ? 'zip'
    : head.subarray(0, 2).equals(GZIP)
      ? 'gzip'
      : found?.ext === 'tar'
        ? 'tar'
        : null
  if (found) return { type: found.mime, container }
  if (data.length === 0 || head.includes(0)) return { type: null, container }
  const start = head.toString('latin1', 0, 512).trimStart().toLowerCase()
  const html = start.startsWith('<!doctype html') || start.startsWith('<html') || /<(head|body|form)[\s>]/.test(start)
  return { type: html ? 'text/html' : 'text/plain', container }
}
