import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { SmtpDialog } from '../helpers/smtp-client.js'
import { startSink } from '../helpers/sink.js'
import type { Sink } from '../helpers/sink.js'
import { startRelay, testPolicy } from '../helpers/relay.js'
import type { TestRelay } from '../helpers/relay.js'

describe('greeting pause (pregreet test)', () => {
  let sink: Sink
  let relay: TestRelay
  before(async () => {
    sink = await startSink()
    relay = await startRelay(testPolicy([sink.port], (p) => (p.instances.inbound.listeners[0].greet_pause = '1s')))
  })
  after(async () => {
    await relay.close()
    await sink.close()
  })

  it('greets a patient client on an MX listener only after greet_pause', async () => {
    const started = Date.now()
    const c = await SmtpDialog.open({ port: relay.port('mx') })
    const greeting = await c.greeting
    assert.equal(greeting.code, 220)
    assert.ok(Date.now() - started >= 900, `greeted after ${Date.now() - started} ms`)
    await c.quit()
  })

  it('answers 554 5.5.0 to a client that talks before the greeting, and hangs up', async () => {
    const c = await SmtpDialog.open({ port: relay.port('mx') })
    c.write('EHLO bot.test\r\n')
    // The first reply the client reads is what it got instead of the greeting.
    const r = await c.greeting
    assert.equal(
      r.line,
      '554 5.5.0 SMTP protocol synchronization error: commands sent before the greeting; wait for the 220 greeting; see https://postmaster.example.net/why/pregreet',
    )
    await assert.rejects(c.read(2000), /connection closed/)
  })

  it('greets at once on a listener without a pause', async () => {
    const c = await SmtpDialog.open({ port: relay.port('submission') })
    assert.equal((await c.greeting).code, 220)
    await c.quit()
  })
})
