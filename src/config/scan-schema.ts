import { z } from 'zod'
import { byteSize, duration } from './units.js'

// The content scanner of an instance: where its YARA-X rules are, which engine runs them, how
// many worker threads scan, and the limits that keep one message from taking the scanner
// (or the process) hostage. Used when the instance lists the data.content_scan check.

/** Limits of one message's explosion; going over one sets a flag, never crashes or stalls. */
const scanLimitsSchema = z
  .strictObject({
    depth: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(20)
      .describe('Deepest object scanned (message → part → archive → member …); deeper ones are skipped with flag scan_limit'),
    objects: z
      .number()
      .int()
      .min(1)
      .default(1000)
      .describe('Most objects (parts, attachments, archive members) per message; the rest are skipped with flag scan_limit'),
    total_bytes: byteSize()
      .prefault('100MiB')
      .describe('Most decoded bytes (attachments, archive members) per message; beyond it flag scan_limit'),
    expansion_ratio: z
      .number()
      .min(1)
      .default(100)
      .describe('An archive that expands beyond this many times its own size (past 1 MiB of output) is flagged archive_bomb and not expanded further'),
    time: duration()
      .prefault('10s')
      .describe('Longest one message may be scanned; then flag scan_limit (a scanner that does not stop is replaced)'),
    memory: byteSize()
      .prefault('512MiB')
      .describe('Heap of each scanner thread; a message that needs more is flagged scan_limit'),
  })
  .prefault({})
  .describe('Limits per message')

/** The `scan` section of an instance. */
export const scanSchema = z
  .strictObject({
    rules: z
      .string()
      .default('yara')
      .describe('Folder of YARA-X rule files (*.yar), relative to the policy file; compiled at start and on reload'),
    engine: z
      .enum(['auto', 'native', 'wasm'])
      .default('auto')
      .describe('YARA-X engine: native (N-API binding, fastest), wasm (portable), auto (native when it loads, else wasm)'),
    workers: z
      .union([z.literal('auto'), z.number().int().min(1).max(64)])
      .default('auto')
      .describe('Scanner threads (messages are scanned off the SMTP thread, one per thread at a time); auto: one fewer than the CPU cores, 1 to 4'),
    queue: z
      .number()
      .int()
      .min(0)
      .default(100)
      .describe('Messages that may wait for a scanner thread; beyond it the scan fails (the check\u2019s on_error applies)'),
    limits: scanLimitsSchema,
  })
  .prefault({})
  .describe('Content scanner used by data.content_scan')

export type ScanConfig = z.output<typeof scanSchema>
export type ScanLimitsConfig = z.output<typeof scanLimitsSchema>
