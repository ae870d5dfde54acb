import { z } from 'zod'
import type { HitAction } from './class-action.js'
import { className } from '../classes/schema.js'
import { classEntry } from '../classes/per-class.js'

/**
 * What a DNS list hit does for a client class: a block list's hit refuses (reject, tempfail),
 * adds a score (tag) or nothing (ignore); an allow list's hit may also accept (the remaining
 * checks of the stage are skipped) or tag with a negative score.
 */
export type ListAction = HitAction | { action: 'accept' }

const listAction = z.union([
  z.enum(['reject', 'tempfail', 'ignore', 'accept']).transform((action) => ({ action })),
  z.strictObject({ tag: z.number().describe('Score to add (negative for an allow list)') }).transform(
    ({ tag }): ListAction => ({ action: 'tag', score: tag }),
  ),
])

/** Schema of a per-class action map for DNS list hits; `default` applies to every class not listed. */
export const listActions = () =>
  z
    .record(className(), listAction)
    .describe('What a hit does per client class: reject, tempfail, accept (allow lists), ignore or { tag: score }; "default" for the others')

/** The action for a class, falling back to `default`, then to ignore. */
export function listActionFor(map: Readonly<Record<string, ListAction>>, clientClass: string): ListAction {
  return classEntry(map, clientClass) ?? { action: 'ignore' }
}
