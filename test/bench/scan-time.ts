import { randomBytes } from 'node:crypto'
import { pino } from 'pino'
import type { EngineKind } from '../../src/scan/engine.js'
import { loadEngine } from '../../src/scan/engine.js'
import { ScanPool } from '../../src/scan/pool.js'
import { buildRuleSet, readRuleDir } from '../../src/scan/rule-set.js'
import type { ScanLimits } from '../../src/scan/types.js'
import * as samples from '../helpers/samples.js'
import { median } from './stats.js'

/** The default rule pack of the repository. */
export const RULES_DIR = new URL('../../policies/yara', import.meta.url).pathname

const LIMITS: ScanLimits = { depth: 20, objects: 1000, totalBytes: 100 * 2 ** 20, expansionRatio: 100, timeMs: 30_000, memoryBytes: 512 * 2 ** 20 }
const MB = 1e6

/** Scan time of one kind of message through a scanner thread. */
export interface ScanTime {
  label: string
  bytes: number
  decoded: number
  objects: number
  ms: number
}

/** Per-scan cost of one engine on a small and a 1 MB payload. */
export interface EngineTime {
  engine: EngineKind
  smallUs: number
  megabyteMs: number
}

/** ~5 KB of plain text, as smtp-source sends it. */
export async function textMessage(): Promise<string> {
  const line = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\r\n'
  return samples.mimeMessage({ subject: 'report', text: line.repeat(Math.round(5120 / line.length)) })
}

/**
 * ~200 KB with a zip attachment of what offices send: a photo (incompressible), a text
 * report and a spreadsheet-like XML member.
 */
export async function zipMessage(): Promise<string> {
  const row = '<row><c>2026-11-23</c><c>invoice 4711</c><c>1,234.50</c><c>paid</c></row>\n'
  const archive = await samples.zip([
    { name: 'photo.jpg', content: Buffer.concat([Buffer.from('ffd8ffe000104a464946', 'hex'), randomBytes(100_000)]) },
    { name: 'report.txt', content: 'Quarterly report. Sales went up in the north and down in the south.\n'.repeat(1500) },
    { name: 'sheet.xml', content: `<sheet>\n${row.repeat(800)}</sheet>\n` },
  ])
  return samples.mimeMessage({ subject: 'Q3 documents', text: 'Hello,\r\nthe documents are attached.\r\n', attachments: [{ filename: 'q3.zip', content: archive }] })
}

/** Times scans of a few message kinds through one scanner thread (the relay's path, queueing aside). */
export async function scanTimes(rounds: number): Promise<ScanTime[]> {
  const rules = buildRuleSet(await readRuleDir(RULES_DIR), 'native')
  const pool = new ScanPool('bench', { workers: 1, queue: 10, memoryBytes: LIMITS.memoryBytes }, pino({ level: 'silent' }))
  const kinds: [string, Buffer][] = [
    ['5 KB text', Buffer.from(await textMessage(), 'latin1')],
    ['200 KB with a zip attachment', Buffer.from(await zipMessage(), 'latin1')],
    ['5 MB with a PDF-like attachment', Buffer.from(await samples.mimeMessage({ attachments: [{ filename: 'scan.pdf', content: Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(5 * 2 ** 20)]) }] }), 'latin1')],
  ]
  const externals = { client_class: 'unknown', sender_domain: 'client.bench.example' }
  try {
    const out: ScanTime[] = []
    for (const [label, raw] of kinds) {
      const times: number[] = []
      let last = await pool.scan(raw, rules, externals, LIMITS, Infinity)
      const runs = Math.max(3, Math.round((rounds * 20 * 200_000) / Math.max(raw.length, 200_000)))
      for (let i = 0; i < runs; i++) {
        const t = performance.now()
        last = await pool.scan(raw, rules, externals, LIMITS, Infinity)
        times.push(performance.now() - t)
      }
      out.push({ label, bytes: raw.length, decoded: last.bytes, objects: last.objects.length, ms: median(times) })
    }
    return out
  } finally {
    await pool.close()
  }
}

/** Per-scan cost of each YARA-X engine with the default rule pack, in this thread. */
export async function engineTimes(): Promise<EngineTime[]> {
  const files = await readRuleDir(RULES_DIR)
  const small = new TextEncoder().encode('Hello Bob, see you on Monday at the usual place. Alice')
  const megabyte = Buffer.from('Quarterly report. Sales went up in the north and down in the south.\n'.repeat(Math.ceil(MB / 68))).subarray(0, MB)
  const externals = { filename: 'report.txt', declared_type: 'text/plain', sniffed_type: 'text/plain', client_class: 'unknown', sender_domain: 'x.example' }
  const out: EngineTime[] = []
  for (const kind of ['native', 'wasm'] as const) {
    const rules = (await loadEngine(kind)).compile(buildRuleSet(files, kind).source, 30_000)
    const time = (data: Uint8Array, n: number) => {
      rules.scan(data, externals)
      const t = performance.now()
      for (let i = 0; i < n; i++) rules.scan(data, externals)
      return (performance.now() - t) / n
    }
    out.push({ engine: kind, smallUs: time(small, kind === 'native' ? 20_000 : 300) * 1000, megabyteMs: time(megabyte, 20) })
    rules.dispose()
  }
  return out
}
