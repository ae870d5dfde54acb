import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { SmtpReply } from '../../src/errors/smtp-reply.js'

describe('SmtpReply', () => {
  it('refuses an enhanced code of another class than the basic code', () => {
    assert.throws(() => new SmtpReply(550, '4.7.1', 'x'), /does not agree/)
    assert.throws(() => new SmtpReply(250, '5.0.0', 'x'), /does not agree/)
    assert.throws(() => new SmtpReply(700, '5.0.0', 'x'), /bad SMTP code/)
  })

  it('cleans control characters and line breaks out of the text', () => {
    const r = new SmtpReply(550, '5.7.1', 'bad\r\n250 forged\x00 reply')
    assert.equal(r.toString(), '550 5.7.1 bad 250 forged reply')
    assert.equal(r.message, '5.7.1 bad 250 forged reply')
    assert.equal(r.responseCode, 550)
  })

  it('keeps every reply line within 510 octets', () => {
    const r = new SmtpReply(550, '5.7.1', 'x'.repeat(2000))
    assert.equal(r.toString().length, 510)
    assert.equal(r.withUrl('https://example.net/long').toString().length, 510)
  })

  it('appends the operator URL to refusals only', () => {
    assert.equal(new SmtpReply(550, '5.7.1', 'no').withUrl('https://x.test/why').toString(), '550 5.7.1 no; see https://x.test/why')
    assert.equal(new SmtpReply(250, '2.0.0', 'ok').withUrl('https://x.test/why').toString(), '250 2.0.0 ok')
  })

  it('parses another server\u2019s reply, keeping or deriving the enhanced code', () => {
    assert.equal(SmtpReply.parse('550 5.1.1 <a@b>: User unknown').toString(), '550 5.1.1 <a@b>: User unknown')
    assert.equal(SmtpReply.parse('451 try later').toString(), '451 4.0.0 try later')
    assert.equal(SmtpReply.parse('550 4.1.1 contradictory').toString(), '550 5.0.0 4.1.1 contradictory')
    assert.equal(SmtpReply.parse('garbage', 451).toString(), '451 4.0.0 garbage')
  })
})
