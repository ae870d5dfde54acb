import { z } from 'zod'
import { duration } from '../config/units.js'
import { contentDeferred, contentRejected } from '../errors/replies.js'
import { scanDispositionsFor, scanFlagsFor, scanRuleHitsFor } from '../metrics/scan-metrics.js'
import type { Verdict } from '../pipeline/types.js'
import { defineCheck } from '../pipeline/types.js'
import { splitAddress } from '../relay/address.js'
import type { Disposition, DispositionPolicy } from '../scan/disposition.js'
import { dispose } from '../scan/disposition.js'
import { summarize } from '../scan/summary.js'
import type { ScanSummary } from '../scan/summary.js'
import { SCAN_FLAGS } from '../scan/types.js'
import type { FlagAction } from '../scan/types.js'

/** Name of the header a tag disposition adds for the next hop. */
const SCAN_HEADER = 'X-Smarthost-Guard-Scan'

const flagAction = z.union([
  z.enum(['reject', 'quarantine', 'tempfail', 'ignore']).transform((action): FlagAction => ({ action })),
  z.strictObject({ tag: z.number().describe('Score to add') }).transform(({ tag }): FlagAction => ({ action: 'tag', score: tag })),
])

/** What the scanner's own flags do unless the policy says otherwise. */
const DEFAULT_FLAG_ACTIONS: Readonly<Record<string, FlagAction>> = Object.fromEntries(
  Object.entries(SCAN_FLAGS).map(([flag, { action }]) => [flag, action]),
)

/** The defaults as a policy writes them: "archive_bomb reject, …, malformed_mime and corrupt_archive { tag: 2 }". */
function describeDefaults(): string {
  const byAction = new Map<string, string[]>()
  for (const [flag, a] of Object.entries(DEFAULT_FLAG_ACTIONS)) {
    const written = a.action === 'tag' ? `{ tag: ${a.score} }` : a.action
    byAction.set(written, [...(byAction.get(written) ?? []), flag])
  }
  const and = new Intl.ListFormat('en', { type: 'conjunction' })
  return [...byAction].map(([written, flags]) => `${and.format(flags)} ${written}`).join(', ')
}

/** Verdict flags: YARA_<RULE> per rule hit, SCAN_<FLAG> per scanner or rule flag. */
const upper = (s: string) => s.replace(/[^A-Za-z0-9]+/g, '_').toUpperCase()

/**
 * data.content_scan: explodes the message in a scanner thread (MIME parts, attachments,
 * archives, nested messages), runs the YARA-X rules on every object and lets the
 * dispositioner decide. Verdicts: reject (554 5.7.1 with the rule's description),
 * quarantine (held for review), tempfail, tag (score and an X-Smarthost-Guard-Scan header), or
 * continue for clean content. A scanner fault is an error (on_error applies: never a 5xx).
 */
export const contentScan = defineCheck({
  id: 'data.content_scan',
  stage: 'data',
  description:
    'Explodes the message (MIME, archives, nested messages) within the scan limits, runs the YARA-X rules on every object and decides: reject (554 5.7.1), quarantine, tempfail, tag or continue.',
  options: z.strictObject({
    timeout: duration()
      .prefault('30s')
      .describe('Longest the check may take, waiting for a scanner thread included; then on_error applies'),
    flag_actions: z
      .record(z.string().regex(/^[A-Za-z0-9_]+$/, 'a flag name'), flagAction)
      .default({})
      .transform((given) => ({ ...DEFAULT_FLAG_ACTIONS, ...given }))
      .describe(
        'What a flag does: reject, quarantine, tempfail, ignore or { tag: score }; scanner flags, rule flags and earlier checks\u2019 flags. ' +
          `Defaults: ${describeDefaults()}`,
      ),
    quarantine_at: z
      .number()
      .nullable()
      .default(null)
      .describe('Hold the message for review when the earlier stages\u2019 score plus the scan\u2019s reaches this'),
    reject_at: z
      .number()
      .nullable()
      .default(null)
      .describe('Refuse the message (554 5.7.1) when the earlier stages\u2019 score plus the scan\u2019s reaches this'),
  }),
  create: (options, deps) => {
    const policy: DispositionPolicy = { flagActions: options.flag_actions, quarantineAt: options.quarantine_at, rejectAt: options.reject_at }
    return async function contentScanCheck(ctx): Promise<Verdict> {
      const { message, tx, session } = ctx
      if (!message || !tx || message.overLimit) return { kind: 'continue' }
      if (!deps.scanner) throw new Error('this instance has no content scanner')
      const externals = { client_class: session.clientClass, sender_domain: splitAddress(tx.mailFrom).domain }
      const report = await deps.scanner.scan(message, externals, Date.now() + options.timeout)
      const disposition = dispose(report, [...session.flags, ...tx.flags], session.score + tx.score, policy)
      const scan = summarize(report, disposition)
      for (const hit of scan.hits) scanRuleHitsFor(session.instance, hit).inc()
      for (const flag of scan.flags) scanFlagsFor(session.instance, flag).inc()
      scanDispositionsFor(session.instance, disposition.kind).inc()
      return verdictFor(disposition, scan)
    }
  },
})

function verdictFor(d: Disposition, scan: ScanSummary): Verdict {
  const flags = [...scan.hits.map((h) => `YARA_${upper(h)}`), ...scan.flags.map((f) => `SCAN_${upper(f)}`)]
  // Counts, rules and flags are in the summary and the flags; the detail says what was decided.
  const detail = d.kind === 'accept' ? `clean, ${scan.objects} objects` : d.description
  switch (d.kind) {
    case 'reject':
      return { kind: 'reject', reply: contentRejected(d.description, d.reason), flags, detail, scan }
    case 'tempfail':
      return { kind: 'tempfail', reply: contentDeferred(d.description, d.reason), flags, detail, scan }
    case 'quarantine':
      return { kind: 'quarantine', reason: d.reason, description: d.description, flags, detail, scan }
    case 'tag': {
      const header = `tag; score=${scan.score}${scan.hits.length ? `; rules=${scan.hits.join(',')}` : ''}${scan.flags.length ? `; flags=${scan.flags.join(',')}` : ''}`
      return { kind: 'tag', score: d.score, flags, detail, scan, headers: [{ name: SCAN_HEADER, value: header }] }
    }
    case 'accept':
      return { kind: 'continue', detail, scan }
  }
}
