import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { metricsText, sample } from '../helpers/metrics.js'
import { startMuteHop } from '../helpers/mute-hop.js'
import { startRelay, testPolicy, waitFor } from '../helpers/relay.js'
import type { TestRelay } from '../helpers/relay.js'
import { sinkReply, startSink } from '../helpers/sink.js'
import type { Sink } from '../helpers/sink.js'
import { message, sendOne, SmtpDialog } from '../helpers/smtp-client.js'

/** A next hop that knows some mailboxes are busy or gone, and records every RCPT it was asked. */
function pickyHop(asked: string[]) {
  return startSink({
    onRcpt: (a) => {
      asked.push(a)
      if (a.startsWith('busy@')) return sinkReply('450 4.2.1 <busy@remote.test>: Mailbox busy, try later')
      if (a.startsWith('gone@')) return sinkReply('550 5.1.1 <gone@remote.test>: User unknown')
      return undefined
    },
  })
}

describe('recipients passed to the next hop while the client waits', () => {
  const asked: string[] = []
  let sink: Sink
  let relay: TestRelay
  before(async () => {
    sink = await pickyHop(asked)
    relay = await startRelay(testPolicy([sink.port]))
  })
  after(async () => {
    await relay.close()
    await sink.close()
  })

  it('gives each RCPT the next hop\u2019s own verdict, 5xx or 4xx, and relays to the recipients it took', async () => {
    const before = sink.messages.length
    const r = await sendOne(relay.port('submission'), 'alice@customer.test', ['a@remote.test', 'gone@remote.test', 'b@remote.test'], message('three'))
    assert.deepEqual(
      r.rcpt.map((x) => x.line),
      ['250 2.1.5 Accepted', '550 5.1.1 <gone@remote.test>: User unknown', '250 2.1.5 Accepted'],
    )
    assert.equal(r.end?.code, 250, r.end?.line)
    assert.equal(sink.messages.length, before + 1)
    assert.deepEqual(sink.messages.at(-1)?.to, ['a@remote.test', 'b@remote.test'])

    const d = await sendOne(relay.port('submission'), 'alice@customer.test', ['busy@remote.test', 'c@remote.test'], message('busy'))
    assert.equal(d.rcpt[0]?.line, '450 4.2.1 <busy@remote.test>: Mailbox busy, try later')
    assert.equal(d.end?.code, 250)
    assert.deepEqual(sink.messages.at(-1)?.to, ['c@remote.test'])
    await waitFor(() => relay.logs.transactions().length >= 2)
    const logged = relay.logs.transactions().at(-1)!.tx.rcpts as { address: string; accepted: boolean; reply?: string }[]
    assert.deepEqual(logged[0], { address: 'busy@remote.test', domain: 'remote.test', local: false, accepted: false, reply: '450 4.2.1 <busy@remote.test>: Mailbox busy, try later' })
    const metrics = await metricsText(relay.adminUrl('/metrics'))
    assert.equal(sample(metrics, 'smarthost_nexthop_rcpt_replies_total', { class: '5xx' }) >= 1, true)
  })

  it('never asks the next hop about a recipient our own checks refused', async () => {
    asked.length = 0
    const r = await sendOne(relay.port('submission'), 'x@stranger.test', ['u@ext.test'], message('open relay?'), { localAddress: '127.0.9.66' })
    assert.match(r.rcpt[0]?.line ?? '', /^554 5\.7\.1 <u@ext\.test>: Relay access denied/)
    assert.deepEqual(asked, [])
  })

  it('reuses one next-hop connection across RSET and across sessions', async () => {
    const opened = sink.connections
    const c = await SmtpDialog.open({ port: relay.port('submission') })
    await c.greeting
    await c.cmd('EHLO customer-pc.test')
    await c.cmd('MAIL FROM:<alice@customer.test>')
    assert.equal((await c.cmd('RCPT TO:<dropped@remote.test>')).code, 250)
    assert.equal((await c.cmd('RSET')).code, 250)
    const r = await c.send('alice@customer.test', ['kept@remote.test'], message('after rset'))
    await c.quit()
    assert.equal(r.end?.code, 250, r.end?.line)
    assert.deepEqual(sink.messages.at(-1)?.to, ['kept@remote.test'])
    const again = await sendOne(relay.port('submission'), 'alice@customer.test', ['d@remote.test'], message('next session'))
    assert.equal(again.end?.code, 250)
    assert.ok(sink.connections - opened <= 1, `opened ${sink.connections - opened} new connections`)
  })
})

describe('a next hop\u2019s connections, one per transaction in flight', () => {
  it('makes a second transaction wait for the connection the first gives back when max_connections is reached', async (t) => {
    const sink = await startSink()
    const relay = await startRelay(testPolicy([sink.port], (p) => (p.instances.outbound.next_hops[0].max_connections = 1)))
    t.after(async () => {
      await relay.close()
      await sink.close()
    })
    const open = async () => {
      const c = await SmtpDialog.open({ port: relay.port('submission') })
      await c.greeting
      await c.cmd('EHLO customer-pc.test')
      await c.cmd('MAIL FROM:<alice@customer.test>')
      return c
    }
    const first = await open()
    const second = await open()
    assert.equal((await first.cmd('RCPT TO:<one@remote.test>')).code, 250)
    const waiting = second.cmd('RCPT TO:<two@remote.test>')
    assert.equal((await first.cmd('DATA')).code, 354)
    first.write(`${message('first')}\r\n.\r\n`)
    assert.equal((await first.read()).code, 250)
    assert.equal((await waiting).code, 250)
    assert.equal((await second.cmd('DATA')).code, 354)
    second.write(`${message('second')}\r\n.\r\n`)
    assert.equal((await second.read()).code, 250)
    await first.quit()
    await second.quit()
    assert.deepEqual(sink.messages.map((m) => m.to), [['one@remote.test'], ['two@remote.test']])
    assert.equal(sink.connections, 1)
  })
})

describe('failing over before a hop holds any recipient', () => {
  it('takes the recipients to the second hop when the first is down before MAIL, with that hop\u2019s verdicts', async (t) => {
    const dead = await startSink()
    const deadPort = dead.port
    await dead.close()
    const asked: string[] = []
    const second = await pickyHop(asked)
    const relay = await startRelay(testPolicy([deadPort, second.port]))
    t.after(async () => {
      await relay.close()
      await second.close()
    })
    const r = await sendOne(relay.port('submission'), 'alice@customer.test', ['a@remote.test', 'gone@remote.test'], message('failover'))
    assert.deepEqual(
      r.rcpt.map((x) => x.code),
      [250, 550],
    )
    assert.equal(r.end?.code, 250, r.end?.line)
    assert.deepEqual(second.messages.at(-1)?.to, ['a@remote.test'])
  })

  it('treats a hop\u2019s 421 at MAIL as the hop going away: the next hop takes the message, and the client never gets a 421', async (t) => {
    const closing = await startSink({ onMail: () => sinkReply('421 4.3.2 Service shutting down') })
    const ok = await startSink()
    const both = await startRelay(testPolicy([closing.port, ok.port]))
    const only = await startRelay(testPolicy([closing.port]))
    t.after(async () => {
      await both.close()
      await only.close()
      await closing.close()
      await ok.close()
    })
    const r = await sendOne(both.port('submission'), 'alice@customer.test', ['a@remote.test'], message('past a closing hop'))
    assert.equal(r.end?.code, 250, r.end?.line)
    assert.equal(ok.messages.length, 1)
    const c = await SmtpDialog.open({ port: only.port('submission') })
    await c.greeting
    await c.cmd('EHLO customer-pc.test')
    await c.cmd('MAIL FROM:<alice@customer.test>')
    assert.match((await c.cmd('RCPT TO:<a@remote.test>')).line, /^451 4\.4\.1 /)
    assert.equal((await c.cmd('NOOP')).code, 250)
    await c.quit()
  })

  it('answers 451 4.4.2 at DATA, and relays nothing, when the hop holding the recipients went away', async (t) => {
    const hop = await startMuteHop('close')
    const second = await startSink()
    const relay = await startRelay(testPolicy([hop.port, second.port]))
    t.after(async () => {
      await relay.close()
      await hop.close()
      await second.close()
    })
    const c = await SmtpDialog.open({ port: relay.port('submission') })
    await c.greeting
    await c.cmd('EHLO customer-pc.test')
    await c.cmd('MAIL FROM:<alice@customer.test>')
    assert.equal((await c.cmd('RCPT TO:<a@remote.test>')).code, 250)
    hop.drop()
    const later = await c.cmd('RCPT TO:<b@remote.test>')
    assert.match(later.line, /^451 4\.4\.2 The connection to the next hop was lost during this transaction/)
    assert.equal((await c.cmd('DATA')).code, 354)
    c.write(`${message('lost')}\r\n.\r\n`)
    assert.match((await c.read()).line, /^451 4\.4\.2 The connection to the next hop was lost/)
    await c.quit()
    assert.equal(hop.messages.length, 0)
    assert.equal(second.messages.length, 0)
  })
})
