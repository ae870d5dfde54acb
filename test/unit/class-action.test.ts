import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { z } from 'zod'
import { actionFor, classActions, hitVerdict } from '../../src/checks/class-action.js'
import { policyReject, policyTempfail } from '../../src/errors/replies.js'

describe('per-class hit actions', () => {
  const schema = z.strictObject({ on_hit: classActions('reject') })

  it('parses reject, tempfail, ignore and { tag: score } per class, with a default', () => {
    const { on_hit } = schema.parse({ on_hit: { default: 'reject', 'authenticated-user': 'ignore', 'residential-dynamic': { tag: 3 } } })
    assert.deepEqual(actionFor(on_hit, 'unknown'), { action: 'reject' })
    assert.deepEqual(actionFor(on_hit, 'authenticated-user'), { action: 'ignore' })
    assert.deepEqual(actionFor(on_hit, 'residential-dynamic'), { action: 'tag', score: 3 })
    assert.deepEqual(actionFor(schema.parse({}).on_hit, 'anyone'), { action: 'reject' })
    assert.deepEqual(actionFor({}, 'anyone'), { action: 'ignore' })
  })

  it('refuses an unknown action', () => {
    assert.equal(schema.safeParse({ on_hit: { default: 'bounce' } }).success, false)
  })

  it('turns a hit into the verdict the class asks for, keeping flags and detail', () => {
    const hit = { flags: ['DNSBL_X'], detail: 'x.test(127.0.0.2)', reply: () => policyReject('listed'), tempReply: () => policyTempfail('listed') }
    assert.equal(hitVerdict({ action: 'reject' }, hit).kind, 'reject')
    const temp = hitVerdict({ action: 'tempfail' }, hit)
    assert.equal(temp.kind === 'tempfail' && temp.reply.code, 450)
    assert.deepEqual(hitVerdict({ action: 'tag', score: 2.5 }, hit), { kind: 'tag', score: 2.5, flags: ['DNSBL_X'], detail: 'x.test(127.0.0.2)' })
    assert.deepEqual(hitVerdict({ action: 'ignore' }, hit), { kind: 'continue', detail: 'x.test(127.0.0.2) (ignored for this class)' })
  })
})
