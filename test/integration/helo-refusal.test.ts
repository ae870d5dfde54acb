import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { relayWithDns } from '../helpers/dns-relay.js'
import { SmtpDialog } from '../helpers/smtp-client.js'

// A HELO refusal is given at MAIL FROM; it must hold for every later MAIL of the session, not
// only the first, until the client greets with another name.

const REFUSED =
  '550 5.7.1 <relay.test>: Helo command rejected: that is our own name or address; greet with your own host name; see https://postmaster.example.net/why/helo'

describe('a HELO refusal holds for the whole session', () => {
  const t = relayWithDns(['rdns'], (p) => {
    const out = p.instances.outbound
    out.relay.networks = ['127.0.0.0/8']
    out.checks = [{ check: 'helo.heuristics', ours: { default: 'reject' } }]
  })

  it('refuses a second and third MAIL FROM under the refused name, and lets a new name be judged afresh', async () => {
    const c = await SmtpDialog.open({ port: t.relay.port('submission'), localAddress: '127.0.5.11' })
    await c.greeting
    await c.cmd('EHLO relay.test')
    assert.equal((await c.cmd('MAIL FROM:<alice@customer.test>')).line, REFUSED)
    assert.equal((await c.cmd('MAIL FROM:<alice@customer.test>')).line, REFUSED)
    await c.cmd('RSET')
    assert.equal((await c.cmd('MAIL FROM:<alice@customer.test>')).line, REFUSED)
    await c.cmd('EHLO good.customer.test')
    assert.equal((await c.cmd('MAIL FROM:<alice@customer.test>')).code, 250)
    assert.equal((await c.cmd('RCPT TO:<bob@remote.test>')).code, 250)
    await c.quit()
    assert.equal(t.sink.messages.length, 0)
  })
})
