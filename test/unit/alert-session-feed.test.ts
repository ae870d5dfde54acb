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
})
