import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { message, sendOne, SmtpDialog } from '../helpers/smtp-client.js'
import { relayWithSink, waitFor } from '../helpers/relay.js'

// Operator access lists and the score thresholds, through the relay.
describe('access lists and scores', () => {
  const env = relayWithSink({}, (p) => {
    const outbound = p.instances.outbound
    outbound.relay.networks = ['127.0.0.0/8']
    outbound.scoring = { reject_at: 10, tempfail_at: 5 }
    outbound.checks = [
      {
        check: 'connect.client_access',
        rules: [
          { match: ['127.0.6.1'], action: 'reject', text: 'Your address is blocked here' },
          { match: ['127.0.6.2'], action: 'tempfail' },
        ],
      },
      {
        check: 'mail.sender_access',
        rules: [
          { match: ['spam.test'], action: 'reject' },
          { match: ['friend@ok.test'], action: 'accept' },
          { match: ['.shady.test'], action: 'tag', score: 6, flag: 'SHADY_SENDER' },
          { match: ['ok.test'], action: 'tag', score: 20 },
        ],
      },
      { check: 'mail.sender_access', mode: 'warn', rules: [{ match: ['watched.test'], action: 'reject' }] },
      { check: 'rcpt.recipient_access', rules: [{ match: ['@trap.test'], action: 'tag', score: 10, flag: 'SPAMTRAP' }] },
    ]
  })

  it('refuses a connection from a blocked address with 554 5.7.1 instead of the greeting, and defers with 421 4.7.1', async () => {
    const blocked = await SmtpDialog.open({ port: env.relay.port('submission'), localAddress: '127.0.6.1' })
    assert.equal((await blocked.greeting).line, '554 5.7.1 Your address is blocked here; see https://postmaster.example.net/why/access')
    await assert.rejects(blocked.read(2000), /connection closed/)
    const deferred = await SmtpDialog.open({ port: env.relay.port('submission'), localAddress: '127.0.6.2' })
    assert.equal((await deferred.greeting).line, '421 4.7.1 [127.0.6.2]: Deferred by local policy; see https://postmaster.example.net/why/access')
  })

  it('refuses a sender on the deny list at MAIL with 550 5.7.1', async () => {
    const r = await sendOne(env.relay.port('submission'), 'bulk@spam.test', ['a@ext.test'], message('x'))
    assert.equal(r.mail.line, '550 5.7.1 <bulk@spam.test>: Access denied by local policy; see https://postmaster.example.net/why/access')
  })

  it('evaluates deny rules before allow rules and an accept skips the later policy checks of the stage', async () => {
    // friend@ok.test matches accept and the ok.test tag of 20: the accept wins, no score is added.
    const r = await sendOne(env.relay.port('submission'), 'friend@ok.test', ['a@ext.test'], message('from a friend'))
    assert.equal(r.end?.code, 250)
    const other = await sendOne(env.relay.port('submission'), 'other@ok.test', ['a@ext.test'], message('tagged'))
    assert.match(other.rcpt[0]?.line ?? '', /^550 5\.7\.1 Message refused by policy \(spam score 20, limit 10\)/)
  })

  it('adds scores across stages and tempfails between the thresholds, then rejects above', async () => {
    const shady = await sendOne(env.relay.port('submission'), 'x@mail.shady.test', ['a@ext.test'], message('shady'))
    assert.match(shady.rcpt[0]?.line ?? '', /^451 4\.7\.1 Message deferred by policy \(spam score 6, limit 5\)/)
    const trap = await sendOne(env.relay.port('submission'), 'x@clean.test', ['ok@ext.test', 'bot@trap.test'], message('trap'))
    assert.equal(trap.rcpt[0]?.code, 250)
    assert.match(trap.rcpt[1]?.line ?? '', /^550 5\.7\.1 Message refused by policy \(spam score 10, limit 10\)/)
  })

  it('in warn mode logs the refusal it would have made and relays the message', async () => {
    const r = await sendOne(env.relay.port('submission'), 'a@watched.test', ['b@ext.test'], message('watched'))
    assert.equal(r.end?.code, 250)
    await waitFor(() => env.relay.logs.transactions().some((t) => t.tx.mailFrom === 'a@watched.test'))
    const tx = env.relay.logs.transactions().find((t) => t.tx.mailFrom === 'a@watched.test')
    const warned = (tx?.tx.checks as { check: string; outcome: string; warn?: boolean; reply?: string }[]).find((c) => c.warn)
    assert.deepEqual([warned?.check, warned?.outcome, warned?.reply], ['mail.sender_access', 'reject', '550 5.7.1 <a@watched.test>: Access denied by local policy'])
  })
})
