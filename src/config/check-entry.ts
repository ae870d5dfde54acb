import { z } from 'zod'
import type { CheckDefinition } from '../pipeline/types.js'
import { didYouMeanText } from './did-you-mean.js'
import { issueText } from './issue-text.js'
import { duration } from './units.js'
import { className } from '../classes/schema.js'

/** Fields every listed check accepts besides its own options. */
export const COMMON_CHECK_FIELDS = {
  mode: z
    .enum(['enforce', 'warn'])
    .default('enforce')
    .describe('warn: log what the check would have refused and refuse nothing'),
  timeout: duration().prefault('5s').describe('Longest the check may take (to within 20 ms); then on_error applies'),
  on_error: z
    .enum(['continue', 'tempfail'])
    .default('continue')
    .describe('On a fault or timeout: continue without an opinion, or tempfail with 451 4.3.0'),
  classes: z
    .array(className())
    .optional()
    .describe('Run only for sessions of these client classes (default: every class)'),
  skip_classes: z
    .array(className())
    .default([])
    .describe('Never run for sessions of these client classes'),
}

/**
 * The schema of one `checks:` entry: `check: <id>` chooses the check, whose own strict options
 * schema then applies. Core checks are configured by their instance section and are refused here.
 */
export function checkEntrySchema(checks: readonly CheckDefinition[]) {
  const listable = checks.filter((c) => c.options)
  const options = listable.map((c) =>
    z.strictObject({ check: z.literal(c.id), ...COMMON_CHECK_FIELDS, ...(c.options?.shape ?? {}) }),
  )
  const ids = listable.map((c) => c.id)
  return z.unknown().transform((value, ctx): CheckEntry => {
    const id = (value as { check?: unknown } | null)?.check
    const schema = options[ids.indexOf(id as CheckDefinition['id'])]
    if (!schema) {
      const core = checks.find((c) => c.id === id && c.core)
      ctx.addIssue({
        code: 'custom',
        path: ['check'],
        message: core
          ? `${String(id)} is a core check: it always runs and is configured by its instance section`
          : `unknown check ${JSON.stringify(id)}${didYouMeanText(id, ids) || `; known: ${ids.join(', ')}`}`,
      })
      return z.NEVER
    }
    const parsed = schema.safeParse(value, { error: issueText, reportInput: true })
    if (parsed.success) return parsed.data
    // Passed on as they are, so an unknown option is reported like any other unknown key.
    for (const issue of parsed.error.issues) ctx.addIssue({ ...issue })
    return z.NEVER
  }).meta({ format: 'check' })
}

/** A parsed `checks:` entry: the common fields plus the check's own options. */
export interface CheckEntry {
  check: CheckDefinition['id']
  mode: 'enforce' | 'warn'
  timeout: number
  on_error: 'continue' | 'tempfail'
  classes?: string[] | undefined
  skip_classes: string[]
  [option: string]: unknown
}
