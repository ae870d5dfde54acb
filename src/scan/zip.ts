import { Uint8ArrayReader, ZipReader, configure } from '@zip.js/zip.js'
import type { FileEntry } from '@zip.js/zip.js'
import type { Budget } from './budget.js'
import { CappedSink } from './budget.js'
import type { Expansion } from './expansion.js'
import { CapExceeded, archiveFailure, expansionCap, objectsLeft } from './expansion.js'

// The scanner already runs in a worker thread of its own. zip.js's own (WebAssembly) inflater
// is several times faster here than Node's CompressionStream behind web streams.
configure({ useWebWorkers: false, useCompressionStream: false })

const WRONG_PASSWORD = /invalid password|invalid signature|invalid compressed data|invalid uncompressed size/i

/**
 * Expands a zip (and zip-based formats: docx, docm, jar…) with zip.js. Declared sizes are
 * checked first, then every byte inflated is counted, so a bomb is flagged archive_bomb
 * early and never inflated past its cap. Encrypted members (ZipCrypto or AES) are tried
 * with the password that opened another member, then with the candidates from the message
 * text; members no candidate opens stay locked and flag encrypted_archive.
 */
export async function expandZip(
  data: Buffer,
  name: string,
  budget: Budget,
  pending: number,
  passwords: () => string[],
): Promise<Expansion> {
  const out: Expansion = { members: [], flags: [] }
  const { cap, byRatio, bomb } = expansionCap(data.length, budget)
  let entries: FileEntry[]
  try {
    const reader = new ZipReader(new Uint8ArrayReader(data))
    entries = []
    const room = objectsLeft(budget, pending)
    for await (const entry of reader.getEntriesGenerator()) {
      budget.checkTime()
      if (entry.directory) continue
      if (entries.length >= room) {
        out.flags.push({ flag: 'scan_limit', detail: `objects: ${name} has more members than objects left to scan` })
        break
      }
      entries.push(entry)
    }
  } catch (err) {
    out.flags.push(archiveFailure(err, name, data.length, budget))
    return out
  }
  const declared = entries.reduce((sum, e) => sum + e.uncompressedSize, 0)
  // zip.js stops a member at its declared size, so the declared total bounds the output.
  if (declared > byRatio) {
    out.flags.push({ flag: 'archive_bomb', detail: `${name} declares ${declared} bytes in ${data.length} (more than ${budget.limits.expansionRatio} times)` })
    return out
  }
  let used = 0
  let known: string | null = null
  for (const entry of entries) {
    const read = async (password?: string) => {
      const sink = new CappedSink(budget, {
        cap: cap - used,
        over: (size) => {
          throw new CapExceeded(bomb, used + size)
        },
      })
      const writer = new WritableStream<Uint8Array>({ write: (chunk) => sink.push(chunk) })
      await entry.getData(writer, password === undefined ? {} : { password })
      return sink
    }
    try {
      let sink: CappedSink | null = null
      if (!entry.encrypted) sink = await read()
      else {
        const first = known
        const order: string[] = first ? [first, ...passwords().filter((p) => p !== first)] : passwords()
        for (const candidate of order) {
          try {
            sink = await read(candidate)
            known = candidate
            break
          } catch (err) {
            if (!(err instanceof Error) || !WRONG_PASSWORD.test(err.message)) throw err
          }
        }
      }
      if (!sink) {
        out.flags.push({ flag: 'encrypted_archive', detail: `${name}: ${entry.filename} is encrypted and no password in the message opens it` })
        out.members.push({ filename: entry.filename, data: Buffer.alloc(0), locked: true })
        continue
      }
      used += sink.size
      out.members.push({ filename: entry.filename, data: sink.buffer })
    } catch (err) {
      const failure = archiveFailure(err, name, data.length, budget, entry.filename)
      out.flags.push(failure)
      // A damaged member leaves the others readable; a cap ends the archive.
      if (failure.flag !== 'corrupt_archive') return out
    }
  }
  return out
}
