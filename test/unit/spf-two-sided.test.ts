import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { twoSided } from '../../src/checks/spf-two-sided.js'
import type { SpfResultName } from '../../src/dns/spf.js'

const RESULTS: SpfResultName[] = ['pass', 'fail', 'softfail', 'neutral', 'none', 'permerror', 'temperror']

describe('two-sided outbound SPF: one conclusion from the egress and the client results', () => {
  it('an egress pass relays whatever the client result is', () => {
    for (const client of RESULTS) assert.equal(twoSided('pass', client), 'pass', client)
  })

  it('an egress fail is a customer whose SPF lacks the relay when the client passes, a forged sender when it does not, and undecided on a client temperror', () => {
    assert.equal(twoSided('fail', 'pass'), 'relay_not_authorized')
    assert.equal(twoSided('fail', 'temperror'), 'temperror')
    for (const client of ['fail', 'softfail', 'neutral', 'none', 'permerror'] as const) assert.equal(twoSided('fail', client), 'forged', client)
  })

  it('any other egress result is what the destination will see, whatever the client result is', () => {
    for (const egress of ['softfail', 'neutral', 'none', 'permerror', 'temperror'] as const) {
      for (const client of RESULTS) assert.equal(twoSided(egress, client), egress, `${egress}/${client}`)
    }
  })
})
