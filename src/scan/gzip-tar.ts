import { Readable } from 'node:stream'
import { createGunzip } from 'node:zlib'
import { extract } from 'tar-stream'
import type { Budget } from './budget.js'
import { CappedSink } from './budget.js'
import type { Expansion } from './expansion.js'
import { CapExceeded, archiveFailure, beyondRatio, expansionCap, objectsLeft } from './expansion.js'

/** Input slice of the gzip decoder: output is judged against the input given so far. */
const SLICE = 16 * 1024

/**
 * Decompresses a gzip stream (zlib) chunk by chunk with its output capped and the clock
 * checked, so a gzip bomb is flagged archive_bomb without being inflated. Its input goes in by
 * slices, so output beyond the ratio of the input given so far stops it early, whatever the
 * size of the archive. The member is named after the archive (`x.tar.gz` → `x.tar`).
 */
export async function expandGzip(data: Buffer, name: string, budget: Budget): Promise<Expansion> {
  const { cap, bomb } = expansionCap(data.length, budget)
  const filename = name.replace(/\.t?gz$/i, (ext) => (ext.toLowerCase() === '.tgz' ? '.tar' : '')) || null
  const sink = new CappedSink(budget, {
    cap,
    over: (size) => {
      throw new CapExceeded(bomb, size)
    },
  })
  let given = 0
  const slices = function* () {
    for (; given < data.length; given += SLICE) yield data.subarray(given, given + SLICE)
  }
  const gunzip = Readable.from(slices(), { highWaterMark: 1 }).pipe(createGunzip())
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      sink.push(chunk)
      // `given` runs ahead of what zlib consumed, so this never flags a stream that is not a bomb.
      if (beyondRatio(sink.size, Math.min(data.length, given + SLICE), budget)) throw new CapExceeded(true, sink.size)
    }
  } catch (err) {
    gunzip.destroy()
    return { members: [], flags: [archiveFailure(err, name, data.length, budget)] }
  }
  return { members: [{ filename, data: sink.buffer }], flags: [] }
}

/**
 * Lists the files of a tar archive with tar-stream. A tar does not compress, so its members
 * never exceed its own size; only the object and byte budgets apply.
 */
export async function expandTar(data: Buffer, name: string, budget: Budget, pending: number): Promise<Expansion> {
  const out: Expansion = { members: [], flags: [] }
  const room = objectsLeft(budget, pending)
  const tar = extract()
  tar.end(data)
  try {
    for await (const entry of tar) {
      budget.checkTime()
      if (entry.header.type !== 'file') {
        entry.resume()
        continue
      }
      if (out.members.length >= room) {
        out.flags.push({ flag: 'scan_limit', detail: `objects: ${name} has more members than objects left to scan` })
        entry.resume()
        break
      }
      const sink = new CappedSink(budget)
      for await (const chunk of entry as AsyncIterable<Buffer>) sink.push(chunk)
      out.members.push({ filename: entry.header.name, data: sink.buffer })
    }
  } catch (err) {
    out.flags.push(archiveFailure(err, name, data.length, budget))
  }
  return out
}
