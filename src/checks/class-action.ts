import { z } from 'zod'
import { classEntry } from '../classes/per-class.js'
import { className } from '../classes/schema.js'
import type { SmtpReply } from '../errors/smtp-reply.js'
import type { Verdict } from '../pipeline/types.js'

/**
 * What a hit of a check does for a client class: refuse (reject, tempfail), add a score (tag),
 * or nothing (ignore). A policy block list means nothing for an authenticated user, while a
 * spam trap hit is worth a reject for anyone: checks that find things take one of these per class.
 */
export type HitAction = { action: 'reject' } | { action: 'tempfail' } | { action: 'ignore' } | { action: 'tag'; score: number }

const hitAction = z.union([
  z.enum(['reject', 'tempfail', 'ignore']).transform((action) => ({ action })),
  z.strictObject({ tag: z.number().describe('Score to add') }).transform(({ tag }): HitAction => ({ action: 'tag', score: tag })),
])

/**
 * Schema of a per-class action map: `{ default: reject, authenticated-user: ignore,
 * residential-dynamic: { tag: 3 } }`. `default` applies to every class not listed.
 */
export function classActions(fallback: 'reject' | 'tempfail' | 'ignore' | { tag: number }) {
  return z
    .record(className(), hitAction)
    .prefault({ default: fallback })
    .describe('What a hit does per client class: reject, tempfail, ignore or { tag: score }; "default" for the others')
}

/** The action for a class, falling back to `default`, then to ignore. */
export function actionFor(map: Readonly<Record<string, HitAction>>, clientClass: string): HitAction {
  return classEntry(map, clientClass) ?? { action: 'ignore' }
}

/**
 * Turns a hit into a verdict according to the action: `reply` is made only when refusing.
 * Flags and detail explain the hit whatever the action (an ignored hit still says why).
 */
export function hitVerdict(
  action: HitAction,
  hit: { flags: readonly string[]; detail: string; reply: () => SmtpReply; tempReply?: () => SmtpReply },
): Verdict {
  switch (action.action) {
    case 'reject':
      return { kind: 'reject', reply: hit.reply(), flags: hit.flags, detail: hit.detail }
    case 'tempfail':
      return { kind: 'tempfail', reply: (hit.tempReply ?? hit.reply)(), flags: hit.flags, detail: hit.detail }
    case 'tag':
      return { kind: 'tag', score: action.score, flags: hit.flags, detail: hit.detail }
    case 'ignore':
      return { kind: 'continue', detail: `${hit.detail} (ignored for this class)` }
  }
}
