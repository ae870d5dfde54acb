import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { message, sendOne, SmtpDialog } from '../helpers/smtp-client.js'
import { sinkReply, startSink } from '../helpers/sink.js'
import type { Sink } from '../helpers/sink.js'
import { startRelay, testPolicy, waitFor } from '../helpers/relay.js'
import type { TestRelay } from '../helpers/relay.js'

describe('before-queue delivery', () => {
  let sink: Sink
  let relay: TestRelay
  before(async () => {
    sink = await startSink({
      onRcpt: (a) => (a.startsWith('unknown@') ? sinkReply('550 5.1.1 <unknown@remote.test>: User unknown') : undefined),
      onData: (m) => (m.text.includes('Subject: refuse-me') ? sinkReply('554 5.7.1 Message content rejected') : undefined),
    })
    relay = await startRelay(testPolicy([sink.port]))
  })
  after(async () => {
    await relay.close()
    await sink.close()
  })

  it('relays a message and answers 250 only with the next hop\u2019s acceptance, adding a Received header', async () => {
    const c = await SmtpDialog.open({ port: relay.port('submission') })
    await c.greeting
    await c.cmd('EHLO customer-pc.test')
    const before = sink.messages.length
    const r = await c.send('alice@customer.test', ['bob@remote.test'], message('hello'))
    await c.quit()
    assert.equal(r.end?.code, 250)
    assert.match(r.end.line, /^250 2\.0\.0 Ok: relayed as [0-9A-Z]{14} \(next hop: 250 2\.0\.0 Ok: queued as SINK\d+\)$/)
    assert.equal(sink.messages.length, before + 1)
    const got = sink.messages.at(-1)!
    assert.equal(got.from, 'alice@customer.test')
    assert.deepEqual(got.to, ['bob@remote.test'])
    const received = got.headers[0] ?? ''
    assert.match(received, /^Received: from customer-pc\.test \(\S+ \[127\.0\.0\.1\]\) by relay\.test \(smarthost-guard\) with ESMTP id [0-9A-Z]{14} for <bob@remote\.test>; \w{3}, \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d \+0000$/)
    assert.ok(got.text.includes('Subject: hello'))
    const tx = relay.logs.transactions().at(-1)!
    assert.equal(tx.tx.outcome, 'delivered')
    assert.match(tx.msg, /status=sent \(250 2\.0\.0 Ok: relayed as/)
  })

  it('passes a next hop\u2019s 550 for a recipient back at its RCPT, with its meaning', async () => {
    const c = await SmtpDialog.open({ port: relay.port('submission') })
    await c.greeting
    await c.cmd('EHLO customer-pc.test')
    const before = sink.messages.length
    const r = await c.send('alice@customer.test', ['unknown@remote.test'], message('to nobody'))
    await c.quit()
    assert.equal(r.rcpt[0]?.line, '550 5.1.1 <unknown@remote.test>: User unknown')
    assert.equal(r.end, undefined)
    assert.equal(sink.messages.length, before)
  })

  it('passes a next hop\u2019s 554 at DATA back unchanged and keeps nothing', async () => {
    const c = await SmtpDialog.open({ port: relay.port('submission') })
    await c.greeting
    await c.cmd('EHLO customer-pc.test')
    const before = sink.messages.length
    const r = await c.send('alice@customer.test', ['bob@remote.test'], message('refuse-me'))
    await c.quit()
    assert.equal(r.end?.line, '554 5.7.1 Message content rejected')
    assert.equal(sink.messages.length, before)
    await waitFor(() => relay.logs.transactions().at(-1)?.tx.outcome === 'rejected')
  })

  it('keeps the null sender and several recipients, and gives no "for" clause for a list', async () => {
    const r = await sendOne(relay.port('submission'), '', ['a@remote.test', 'b@remote.test', 'c@other.test'], message('bounce'), { helo: 'customer-pc.test' })
    assert.equal(r.end?.code, 250)
    const got = sink.messages.at(-1)!
    assert.equal(got.from, '')
    assert.deepEqual(got.to, ['a@remote.test', 'b@remote.test', 'c@other.test'])
    assert.doesNotMatch(got.headers[0] ?? '', / for </)
  })
})

describe('next hops down, failing over, timing out', () => {
  it('answers 451 4.4.1 when no next hop is reachable, and nothing is accepted', async (t) => {
    const dead = await startSink()
    const port = dead.port
    await dead.close()
    const relay = await startRelay(testPolicy([port]))
    t.after(() => relay.close())
    const r = await sendOne(relay.port('submission'), 'alice@customer.test', ['bob@remote.test'], message('nowhere to go'), { helo: 'customer-pc.test' })
    assert.equal(r.rcpt[0]?.line, '451 4.4.1 No next hop is reachable at the moment; please try again later; see https://postmaster.example.net/why/next-hop-down')
    assert.equal(r.end, undefined)
    await waitFor(() => relay.logs.transactions().length > 0)
    const tx = relay.logs.transactions().at(-1)!
    assert.equal(tx.tx.outcome, 'tempfailed')
  })

  it('fails over to the second next hop when the first is down', async (t) => {
    const dead = await startSink()
    const deadPort = dead.port
    await dead.close()
    const second = await startSink()
    const relay = await startRelay(testPolicy([deadPort, second.port]))
    t.after(async () => {
      await relay.close()
      await second.close()
    })
    for (let i = 0; i < 3; i++) {
      const c = await SmtpDialog.open({ port: relay.port('submission') })
      await c.greeting
      await c.cmd('EHLO customer-pc.test')
      const r = await c.send('alice@customer.test', ['bob@remote.test'], message(`failover ${i}`))
      await c.quit()
      assert.equal(r.end?.code, 250, r.end?.line)
    }
    assert.equal(second.messages.length, 3)
    const attempts = relay.logs.transactions().map((l) => (l.tx.nextHop as { attempts: unknown[] }).attempts.length)
    // The first message tried the dead hop; later ones skip it while it is backed off.
    assert.deepEqual(attempts, [2, 1, 1])
  })

  it('tries the next hop after a 4xx and passes the 4xx back when every hop defers', async (t) => {
    const busy = await startSink({ onData: () => sinkReply('451 4.3.0 Try again later (busy)') })
    const ok = await startSink()
    const relay = await startRelay(testPolicy([busy.port, ok.port]))
    const onlyBusy = await startRelay(testPolicy([busy.port]))
    t.after(async () => {
      await relay.close()
      await onlyBusy.close()
      await busy.close()
      await ok.close()
    })
    const r = await sendOne(relay.port('submission'), 'alice@customer.test', ['bob@remote.test'], message('deferred then relayed'), { helo: 'customer-pc.test' })
    assert.equal(r.end?.code, 250)
    assert.equal(ok.messages.length, 1)
    const d = await SmtpDialog.open({ port: onlyBusy.port('submission') })
    await d.greeting
    await d.cmd('EHLO customer-pc.test')
    const r2 = await d.send('alice@customer.test', ['bob@remote.test'], message('deferred'))
    await d.quit()
    assert.equal(r2.end?.line, '451 4.3.0 Try again later (busy)')
  })

  it('answers 451 4.4.2 when the next hop does not answer RCPT in time', async (t) => {
    const slow = await startSink({ onRcpt: () => undefined, rcptDelayMs: 3000 })
    const relay = await startRelay(testPolicy([slow.port], (p) => (p.instances.outbound.next_hops[0].timeout = '1s')))
    t.after(async () => {
      await relay.close()
      await slow.close()
    })
    const r = await sendOne(relay.port('submission'), 'alice@customer.test', ['bob@remote.test'], message('slow'), { helo: 'customer-pc.test' })
    assert.match(r.rcpt[0]?.line ?? '', /^451 4\.4\.2 The next hop did not answer in time/)
    assert.equal(slow.messages.length, 0)
  })

  it('waits for the reply to the final dot longer than the command timeout: data_reply_timeout, 10 minutes by default', async (t) => {
    const slow = await startSink({ delayMs: 1500 })
    const relay = await startRelay(testPolicy([slow.port], (p) => (p.instances.outbound.next_hops[0].timeout = '1s')))
    t.after(async () => {
      await relay.close()
      await slow.close()
    })
    const r = await sendOne(relay.port('submission'), 'alice@customer.test', ['bob@remote.test'], message('slow to queue'), { helo: 'customer-pc.test' })
    assert.equal(r.end?.code, 250, r.end?.line)
    assert.equal(slow.messages.length, 1)
  })
})

describe('next-hop TLS and AUTH', () => {
  it('uses STARTTLS when the next hop offers it', async (t) => {
    const sink = await startSink()
    const relay = await startRelay(testPolicy([sink.port]))
    t.after(async () => {
      await relay.close()
      await sink.close()
    })
    const r = await sendOne(relay.port('submission'), 'a@customer.test', ['b@ext.test'], message('over tls'))
    assert.equal(r.end?.code, 250)
    assert.equal(sink.messages[0]?.secure, true)
  })

  it('does not send in clear text to a hop that must use TLS but offers none', async (t) => {
    const plain = await startSink({ starttls: false })
    const relay = await startRelay(testPolicy([plain.port], (p) => (p.instances.outbound.next_hops[0].tls = 'required')))
    t.after(async () => {
      await relay.close()
      await plain.close()
    })
    const r = await sendOne(relay.port('submission'), 'a@customer.test', ['b@ext.test'], message('must be secret'))
    assert.match(r.rcpt[0]?.line ?? '', /^451 4\.4\.1 /)
    assert.equal(plain.messages.length, 0)
  })

  it('authenticates to a next hop that requires AUTH, with the password from its file', async (t) => {
    const sink = await startSink({ auth: { user: 'relay', pass: 'hop secret' } })
    const relay = await startRelay(
      testPolicy([sink.port], (p) => (p.instances.outbound.next_hops[0].auth = { user: 'relay', password_file: 'hop.pass' })),
      { files: { 'hop.pass': 'hop secret\n' } },
    )
    t.after(async () => {
      await relay.close()
      await sink.close()
    })
    const r = await sendOne(relay.port('submission'), 'a@customer.test', ['b@ext.test'], message('authenticated hop'))
    assert.equal(r.end?.code, 250, r.end?.line)
    assert.equal(sink.messages[0]?.user, 'relay')
  })
})

describe('a next hop that refuses our own set-up', () => {
  it('logs a message as delivered when the next hop took it after the client hung up', async (t) => {
    const slow = await startSink({ delayMs: 400 })
    const relay = await startRelay(testPolicy([slow.port]))
    t.after(async () => {
      await relay.close()
      await slow.close()
    })
    const c = await SmtpDialog.open({ port: relay.port('submission') })
    await c.greeting
    await c.cmd('EHLO customer-pc.test')
    await c.cmd('MAIL FROM:<a@customer.test>')
    await c.cmd('RCPT TO:<b@ext.test>')
    await c.cmd('DATA')
    c.write(`${message('gone before the answer')}\r\n.\r\n`)
    await new Promise((r) => setTimeout(r, 100))
    c.destroy()
    await waitFor(() => slow.messages.length === 1 && relay.logs.transactions().length > 0, 5000, 'the delivery and its record')
    const logged = relay.logs.transactions()
    assert.equal(logged.length, 1)
    assert.equal(logged[0]?.tx.outcome, 'delivered')
  })

  it('answers 552 5.3.4 for a message larger than the next hop\u2019s SIZE, and keeps using that hop', async (t) => {
    const small = await startSink({ size: 2000 })
    const relay = await startRelay(testPolicy([small.port]))
    t.after(async () => {
      await relay.close()
      await small.close()
    })
    const big = await sendOne(relay.port('submission'), 'a@customer.test', ['b@ext.test'], message('big', `${'x'.repeat(70)}\r\n`.repeat(70)))
    assert.equal(big.end?.line, '552 5.3.4 Message size exceeds the fixed limit of 2000 bytes of the next mail server; see https://postmaster.example.net/why/message-too-big')
    const fits = await sendOne(relay.port('submission'), 'a@customer.test', ['b@ext.test'], message('fits'))
    assert.equal(fits.end?.code, 250)
    assert.equal(small.messages.length, 1)
  })

  it('takes a hop\u2019s 530 at MAIL as our setup failing there: the next hop gets the message, and without one the client gets a 4xx', async (t) => {
    const wantsAuth = await startSink({ onMail: () => sinkReply('530 5.7.0 Authentication required') })
    const ok = await startSink()
    const both = await startRelay(testPolicy([wantsAuth.port, ok.port]))
    const only = await startRelay(testPolicy([wantsAuth.port]))
    t.after(async () => {
      await both.close()
      await only.close()
      await wantsAuth.close()
      await ok.close()
    })
    const failedOver = await sendOne(both.port('submission'), 'a@customer.test', ['b@ext.test'], message('to the second hop'))
    assert.equal(failedOver.end?.code, 250)
    assert.equal(ok.messages.length, 1)
    const r = await sendOne(only.port('submission'), 'a@customer.test', ['b@ext.test'], message('nowhere to go'))
    assert.match(r.rcpt[0]?.line ?? '', /^451 4\.4\.1 /)
  })

  it('picks up a rotated next-hop password file on reload', async (t) => {
    const sink = await startSink({ auth: { user: 'relay', pass: 'the new one' } })
    const relay = await startRelay(
      testPolicy([sink.port], (p) => (p.instances.outbound.next_hops[0].auth = { user: 'relay', password_file: 'hop.pass' })),
      { files: { 'hop.pass': 'the old one\n' } },
    )
    t.after(async () => {
      await relay.close()
      await sink.close()
    })
    const before = await sendOne(relay.port('submission'), 'a@customer.test', ['b@ext.test'], message('old password'))
    assert.match(before.rcpt[0]?.line ?? '', /^451 4\.4\.1 /)
    await writeFile(join(relay.dir, 'hop.pass'), 'the new one\n')
    assert.deepEqual(await relay.service.reload(), { ok: true })
    const after = await sendOne(relay.port('submission'), 'a@customer.test', ['b@ext.test'], message('new password'))
    assert.equal(after.end?.code, 250)
    assert.equal(sink.messages.length, 1)
  })

  it('answers 451 4.4.1, never the hop\u2019s 5xx, when the hop refuses our AUTH', async (t) => {
    const sink = await startSink({ auth: { user: 'relay', pass: 'the real one' } })
    const relay = await startRelay(
      testPolicy([sink.port], (p) => (p.instances.outbound.next_hops[0].auth = { user: 'relay', password_file: 'hop.pass' })),
      { files: { 'hop.pass': 'an old one\n' } },
    )
    t.after(async () => {
      await relay.close()
      await sink.close()
    })
    const r = await sendOne(relay.port('submission'), 'a@customer.test', ['b@ext.test'], message('misconfigured hop'))
    assert.match(r.rcpt[0]?.line ?? '', /^451 4\.4\.1 /)
    await waitFor(() => relay.logs.transactions().length > 0)
    const attempt = (relay.logs.transactions().at(-1)?.tx.nextHop as { attempts: { reply: string }[] }).attempts[0]
    assert.match(attempt?.reply ?? '', /^EAUTH /)
  })
})
