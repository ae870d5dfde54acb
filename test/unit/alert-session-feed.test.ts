import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { authAttemptOf } from '../../src/alerts/session-feed.js'
import type { SessionOutcome } from '../../src/alerts/session-feed.js'

const session = (user: string | null): SessionOutcome['session'] => ({
  client: { address: '192.0.2.7', port: 40000, ptr: null },
  clientClass: 'authenticated-user',
  user,
})

describe('AUTH attempts read from session outcomes', () => {
  it('takes the user of a successful login from the session, as the relay reports it without a name of its own', () => {
    const at = Date.now()
    assert.deepEqual(authAttemptOf({ time: at, stage: 'auth', outcome: 'authenticated', user: null, session: session('alice') }), {
      user: 'alice',
      address: '192.0.2.7',
      ok: true,
      at,
    })
  })

  it('takes the name tried from a refused AUTH, and ignores outcomes of other stages', () => {
    const at = Date.now()
    assert.deepEqual(authAttemptOf({ time: at, stage: 'auth', outcome: 'rejected', user: 'alice', session: session(null) }), {
      user: 'alice',
      address: '192.0.2.7',
      ok: false,
      at,
    })
    assert.equal(authAttemptOf({ time: at, stage: 'close', outcome: 'disconnected', user: null, session: session('alice') }), null)
  })

  it('counts a lockout and the wrong password that ends the session as failed attempts; not an AUTH refused for want of TLS', () => {
    const at = Date.now()
    const refused = (reason: string) => authAttemptOf({ time: at, stage: 'auth', outcome: 'tempfailed', user: 'alice', reply: { reason }, session: session(null) })
    assert.equal(refused('auth-locked')?.ok, false)
    assert.equal(refused('auth-session-limit')?.ok, false)
    assert.equal(refused('auth-unavailable'), null)
  })

  it("says whether auth.failures knew the login's address: a new one is tagged AUTH_NEW_ADDRESS, a known one passes", () => {
    const at = Date.now()
    const withCheck = (outcome: 'tag' | 'continue', flags?: string[]) =>
      authAttemptOf({
        time: at,
        stage: 'auth',
        outcome: 'authenticated',
        user: null,
        session: { ...session('alice'), checks: [{ check: 'auth.failures', stage: 'auth', outcome, ...(flags ? { flags } : {}), ms: 1 }] },
      })
    assert.equal(withCheck('tag', ['AUTH_NEW_ADDRESS'])?.known, false)
    assert.equal(withCheck('continue')?.known, true)
    assert.equal(authAttemptOf({ time: at, stage: 'auth', outcome: 'authenticated', user: null, session: session('alice') })?.known, undefined)
  })
})
