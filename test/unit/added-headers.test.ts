import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { AddedHeadersConfig } from '../../src/config/added-headers-schema.js'
import type { SessionRecord, TransactionRecord } from '../../src/pipeline/record.js'
import { addedFields, guardValue, withoutForgedFields } from '../../src/relay/added-headers.js'

const ON: AddedHeadersConfig = { guard: true, guard_name: 'X-Smarthost-Guard', authentication_results: true }
const OFF: AddedHeadersConfig = { guard: false, guard_name: 'X-Smarthost-Guard', authentication_results: false }
const strip = (text: string, settings = ON) => Buffer.concat(withoutForgedFields(Buffer.from(text, 'latin1'), settings, 'relay.test')).toString('latin1')

describe('header fields the relay adds', () => {
  it('writes the combined score and each flag once', () => {
    assert.equal(guardValue(1.5 + 2, ['SPF_SOFTFAIL', 'FROM_DMARC_NONE', 'SPF_SOFTFAIL']), 'score=3.5; flags=SPF_SOFTFAIL,FROM_DMARC_NONE')
    assert.equal(guardValue(0, []), 'score=0; flags=')
  })

  it('merges its method results into the Authentication-Results a check wrote with our authserv-id', () => {
    const session = { headers: [], authResults: [], score: 2, flags: ['HELO_BARE_IP'] } as unknown as SessionRecord
    const tx = {
      headers: [{ name: 'Authentication-Results', value: 'relay.test; spf=pass smtp.mailfrom=a@b.test' }],
      authResults: [{ method: 'dmarc', result: 'fail', comment: 'p=none', props: { 'header.from': 'Odd Name (x).test' } }],
      score: 1,
      flags: ['FROM_DMARC_NONE'],
    } as unknown as TransactionRecord
    assert.deepEqual(addedFields(ON, 'relay.test', session, tx), [
      { name: 'Authentication-Results', value: 'relay.test; spf=pass smtp.mailfrom=a@b.test; dmarc=fail (p=none) header.from="Odd Name (x).test"' },
      { name: 'X-Smarthost-Guard', value: 'score=3; flags=HELO_BARE_IP,FROM_DMARC_NONE' },
    ])
    assert.deepEqual(addedFields(OFF, 'relay.test', session, tx), tx.headers)
  })

  it('cuts forged copies out of the header, folded lines with them, wherever they stand', () => {
    const body = '\r\nX-Smarthost-Guard: in the body stays\r\n'
    assert.equal(strip(`X-Smarthost-Guard: score=0;\r\n\tflags=\r\nSubject: hi\r\n${body}`), `Subject: hi\r\n${body}`)
    assert.equal(strip(`Subject: hi\r\nx-smarthost-guard : score=0\r\n${body}`), `Subject: hi\r\n${body}`)
    assert.equal(
      strip(`Authentication-Results: (ours) Relay.Test; spf=pass\r\nAuthentication-Results: mx.other.test; spf=fail\r\nSubject: hi\r\n${body}`),
      `Authentication-Results: mx.other.test; spf=fail\r\nSubject: hi\r\n${body}`,
    )
    // A header with no body after it.
    assert.equal(strip('Subject: hi\r\nX-Smarthost-Guard: score=0\r\n'), 'Subject: hi\r\n')
  })

  it('returns the message itself when there is nothing to cut, or the fields are off', () => {
    const raw = Buffer.from('Subject: X-Smarthost-Guard\r\nX-Smarthost-Guard-Scan: clean\r\n\r\nbody\r\n')
    const pieces = withoutForgedFields(raw, ON, 'relay.test')
    assert.equal(pieces.length, 1)
    assert.equal(pieces[0], raw)
    const forged = Buffer.from('X-Smarthost-Guard: score=0\r\n\r\nbody\r\n')
    assert.equal(withoutForgedFields(forged, OFF, 'relay.test')[0], forged)
  })
})
