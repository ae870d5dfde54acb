import { limitStateUnavailable, penaltyBoxed } from '../errors/replies.js'
import { limitStateFailuresFor } from '../metrics/limit-metrics.js'
import type { PenaltyBoxConfig } from '../limits/schema.js'
import type { CheckDeps, CheckFn } from '../pipeline/types.js'
import { defineCoreCheck } from '../pipeline/types.js'
import { AUTH_NEW_ADDRESS } from './auth-failures.js'
import { stateOf } from './limit-common.js'

// The penalty box is an operator's instrument: its checks are core checks (always on, never
// in warn mode, never skipped by an accept), so `smarthost-guard penalty add` always bites.

function boxCheck(at: 'connect' | 'auth' | 'mail') {
  return (config: PenaltyBoxConfig, deps: CheckDeps): CheckFn => {
    const state = stateOf(deps)
    return async function penaltyBox(ctx) {
      if (at === 'auth' && !ctx.auth?.success) return { kind: 'continue' }
      // Only a session logged in from a new address is looked up again at MAIL: the one an alert may hold while it sends.
      if (at === 'mail' && !ctx.session.flags.includes(AUTH_NEW_ADDRESS)) return { kind: 'continue' }
      let entry
      try {
        entry = await state.penaltyBox.find(at === 'auth' ? { user: ctx.auth?.username ?? null } : { address: ctx.session.client.address })
      } catch (err) {
        // The box is unreadable (Redis down): the policy's on_failure decides, as for limits.
        const failOpen = state.backend.onFailure === 'fail-open'
        limitStateFailuresFor(state.instance, `${at}.penalty_box`, failOpen ? 'fail-open' : 'tempfail').inc()
        const detail = `penalty box unreadable: ${err instanceof Error ? err.message : String(err)}`
        if (failOpen) return { kind: 'continue', detail }
        return { kind: 'tempfail', reply: limitStateUnavailable(at === 'connect'), flags: ['PENALTY_BOX_ERROR'], detail }
      }
      if (!entry) return { kind: 'continue' }
      const verdict = config.reply === 'reject' ? 'reject' : 'tempfail'
      return {
        kind: verdict,
        offending: true,
        // At MAIL as at connect: 421 closes the session.
        reply: penaltyBoxed(entry, at === 'auth' ? 'auth' : 'connect', config.reply),
        flags: ['PENALTY_BOX'],
        detail: `${entry.scope} ${entry.value} in the penalty box until ${new Date(entry.until).toISOString()} by ${entry.who}: ${entry.why}`,
      }
    }
  }
}

/** connect.penalty_box (core): a client whose address or subnet is in the box. Verdicts: tempfail 421 4.7.1 or reject 554 5.7.1; continue. */
export const connectPenaltyBox = defineCoreCheck({
  id: 'connect.penalty_box',
  stage: 'connect',
  description: 'Refuses clients whose address or /24 (/64) subnet is in the penalty box (421 4.7.1, or 554 5.7.1 with penalty_box.reply: reject).',
  core: ({ config }) => config.penalty_box,
  create: boxCheck('connect'),
})

/** auth.penalty_box (core): a user in the box, after a successful AUTH. Verdicts: tempfail 454 4.7.1 or reject 554 5.7.1; continue. */
export const authPenaltyBox = defineCoreCheck({
  id: 'auth.penalty_box',
  stage: 'auth',
  description: 'Refuses an authenticated user who is in the penalty box (454 4.7.1, or 554 5.7.1 with penalty_box.reply: reject).',
  core: ({ config }) => config.penalty_box,
  create: boxCheck('auth'),
})

/**
 * mail.penalty_box (core): a session that logged in from an address new to its account
 * (AUTH_NEW_ADDRESS) whose address was put in the box since, e.g. by the auth_cracked_sending
 * alert. Verdicts: tempfail 421 4.7.1 (closes) or reject 554 5.7.1; continue.
 */
export const mailPenaltyBox = defineCoreCheck({
  id: 'mail.penalty_box',
  stage: 'mail',
  description:
    'Refuses MAIL in a session logged in from an address new to its account once that address is in the penalty box (421 4.7.1, closing; or 554 5.7.1 with penalty_box.reply: reject).',
  core: ({ config }) => config.penalty_box,
  create: boxCheck('mail'),
})
