import { z } from 'zod'
import { byteSize, duration } from './units.js'

/** The `quarantine` section of an instance. */
export const quarantineSchema = z
  .strictObject({
    dir: z
      .string()
      .min(1)
      .describe('Folder of the quarantine (by day and reason, with a JSON-lines index per day), relative to the policy file'),
    max_size: byteSize().prefault('1GiB').describe('Largest total size; the oldest messages are removed beyond it'),
    max_age: duration().prefault('30d').describe('Messages older than this are removed'),
    keep_refused: z
      .boolean()
      .default(true)
      .describe('Also keep messages refused at the end of DATA (not only those held for review)'),
  })
  .optional()
  .describe('Where held and refused messages are kept; without it a quarantine verdict answers 451 4.3.0')

export type QuarantineConfig = z.output<typeof quarantineSchema>
