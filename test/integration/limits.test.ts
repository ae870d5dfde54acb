import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { message, SmtpDialog } from '../helpers/smtp-client.js'
import { startSink } from '../helpers/sink.js'
import type { Sink } from '../helpers/sink.js'
import { startRelay, testPolicy } from '../helpers/relay.js'
import type { TestRelay } from '../helpers/relay.js'

describe('per-message and per-listener limits', () => {
  let sink: Sink
  let relay: TestRelay
  before(async () => {
    sink = await startSink()
    relay = await startRelay(
      testPolicy([sink.port], (p) => {
        p.instances.outbound.limits = { message_size: '10KiB', recipients_per_message: 3, connections_per_listener: 2, drain_timeout: '2s' }
      }),
    )
  })
  after(async () => {
    await relay.close()
    await sink.close()
  })

  it('advertises SIZE and refuses a declared SIZE over the limit at MAIL with the catalog\'s 552 5.3.4 and its URL', async () => {
    const c = await SmtpDialog.open({ port: relay.port('submission') })
    await c.greeting
    const ehlo = await c.cmd('EHLO pc.test')
    assert.ok(ehlo.lines.includes('SIZE 10240'))
    const r = await c.cmd('MAIL FROM:<a@customer.test> SIZE=20000')
    await c.quit()
    assert.equal(r.line, '552 5.3.4 Message size exceeds the fixed limit of 10240 bytes; see https://postmaster.example.net/why/message-too-big')
  })

  it('refuses a message over the limit after DATA with 552 5.3.4, and relays nothing', async () => {
    const c = await SmtpDialog.open({ port: relay.port('submission') })
    await c.greeting
    await c.cmd('EHLO pc.test')
    const before = sink.messages.length
    const r = await c.send('a@customer.test', ['b@ext.test'], message('big', 'x'.repeat(70) + '\r\n'.repeat(1) + ('y'.repeat(76) + '\r\n').repeat(200)))
    // The session goes on: a small message after the big one is relayed.
    const small = await c.send('a@customer.test', ['b@ext.test'], message('small'))
    await c.quit()
    assert.equal(r.end?.line, '552 5.3.4 Message size exceeds the fixed limit of 10240 bytes; see https://postmaster.example.net/why/message-too-big')
    assert.equal(small.end?.code, 250)
    assert.equal(sink.messages.length, before + 1)
  })

  it('defers recipients beyond the per-message limit with 452 4.5.3 and relays to the accepted ones', async () => {
    const c = await SmtpDialog.open({ port: relay.port('submission') })
    await c.greeting
    await c.cmd('EHLO pc.test')
    const r = await c.send('a@customer.test', ['r1@ext.test', 'r2@ext.test', 'r3@ext.test', 'r4@ext.test', 'r5@ext.test'], message('many'))
    await c.quit()
    assert.deepEqual(r.rcpt.map((x) => x.code), [250, 250, 250, 452, 452])
    assert.equal(r.rcpt[3]?.line, '452 4.5.3 Too many recipients for one message (limit 3); send the rest in another message; see https://postmaster.example.net/why/too-many-recipients')
    assert.equal(r.end?.code, 250)
    assert.deepEqual(sink.messages.at(-1)?.to, ['r1@ext.test', 'r2@ext.test', 'r3@ext.test'])
  })

  it('answers 421 4.3.2 to a connection over the listener limit and keeps serving the others', async () => {
    const a = await SmtpDialog.open({ port: relay.port('submission') })
    const b = await SmtpDialog.open({ port: relay.port('submission') })
    assert.equal((await a.greeting).code, 220)
    assert.equal((await b.greeting).code, 220)
    const c = await SmtpDialog.open({ port: relay.port('submission') })
    const refused = await c.greeting
    assert.equal(refused.line, '421 4.3.2 Too many connections to this service; please try again in a moment; see https://postmaster.example.net/why/listener-busy')
    // The implicit-TLS listener has its own count.
    const d = await SmtpDialog.open({ port: relay.port('submissions'), implicitTls: true })
    assert.equal((await d.greeting).code, 220)
    await a.cmd('EHLO pc.test')
    const r = await a.send('a@customer.test', ['b@ext.test'], message('still served'))
    assert.equal(r.end?.code, 250)
    await Promise.all([a.quit(), b.quit(), d.quit()])
    c.destroy()
  })
})
