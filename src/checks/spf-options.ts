import { z } from 'zod'
import { duration } from '../config/units.js'
import type { SpfOutcome } from '../dns/spf.js'
import { spfTempError } from '../errors/replies.js'
import type { SmtpReply } from '../errors/smtp-reply.js'
import type { Verdict } from '../pipeline/types.js'
import { actionFor, classActions } from './class-action.js'
import { combineFindings } from './combine-findings.js'

/** Options both SPF checks share: what each result does per client class. */
export const spfResultOptions = {
  fail: classActions('reject').describe('SPF fail: action per client class (reject: 550 5.7.23)'),
  softfail: classActions({ tag: 2 }).describe('SPF softfail: action per client class'),
  neutral: classActions('ignore').describe('SPF neutral: action per client class'),
  none: classActions('ignore').describe('No SPF record: action per client class'),
  permerror: classActions({ tag: 1 }).describe('A broken SPF record (permerror): action per client class (reject: 550 5.7.24)'),
  temperror: z
    .enum(['tempfail', 'continue'])
    .default('tempfail')
    .describe('SPF could not be evaluated now (DNS failure or timeout): 451 4.7.24, or continue without an opinion; never a 5xx'),
  deadline: duration()
    .prefault('4s')
    .describe('Longest an evaluation (up to 10 DNS lookups) may take; past it the result is temperror'),
}

/** The parsed shared options. */
export type SpfResultConfig = z.output<z.ZodObject<typeof spfResultOptions>>

/**
 * The verdict for an SPF result: temperror is a tempfail (or nothing), pass says nothing
 * against the sender, the others do what their per-class action says. `refuse` makes the
 * refusal for fail and softfail, `permerror` the one for a broken record.
 */
export function spfVerdict(
  outcome: SpfOutcome,
  config: SpfResultConfig,
  clientClass: string,
  detail: string,
  replies: { refuse: (temporary: boolean) => SmtpReply; permerror: (temporary: boolean) => SmtpReply },
): Verdict {
  const flag = `SPF_${outcome.result.toUpperCase()}`
  switch (outcome.result) {
    case 'pass':
      return { kind: 'continue', detail }
    case 'temperror':
      // A DNS problem is never the sender's fault: at worst 4xx (RFC 7208 section 8.6).
      return config.temperror === 'tempfail'
        ? { kind: 'tempfail', reply: spfTempError(outcome.domain), flags: [flag], detail }
        : { kind: 'tag', score: 0, flags: [flag], detail }
    default: {
      const action = actionFor(config[outcome.result], clientClass)
      const reply = outcome.result === 'permerror' ? replies.permerror : replies.refuse
      return combineFindings([{ flag, detail: outcome.result, action, reply }], detail, clientClass)
    }
  }
}
