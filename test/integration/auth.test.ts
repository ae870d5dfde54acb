import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { authPlain, message, SmtpDialog } from '../helpers/smtp-client.js'
import { relayWithSink, USER } from '../helpers/relay.js'

const STRANGER = '127.0.9.66'
const b64 = (s: string) => Buffer.from(s).toString('base64')

describe('SMTP AUTH for relaying', () => {
  const env = relayWithSink()

  it('does not offer AUTH before TLS and refuses it with 538', async () => {
    const c = await SmtpDialog.open({ port: env.relay.port('submission'), localAddress: STRANGER })
    await c.greeting
    const ehlo = await c.cmd('EHLO roadwarrior.test')
    assert.ok(ehlo.lines.includes('STARTTLS'))
    assert.ok(!ehlo.lines.some((l) => l.startsWith('AUTH')), ehlo.lines.join('|'))
    const r = await c.cmd(authPlain(USER.name, USER.password))
    assert.equal(r.line, '538 5.7.11 Must issue a STARTTLS command first; AUTH is only accepted over TLS')
    await c.quit()
  })

  it('authenticates over STARTTLS and then relays from any address, recording the user', async () => {
    const c = await SmtpDialog.open({ port: env.relay.port('submission'), localAddress: STRANGER })
    await c.greeting
    await c.cmd('EHLO roadwarrior.test')
    const ehlo = await c.starttls('roadwarrior.test')
    assert.ok(ehlo.lines.includes('AUTH PLAIN LOGIN'), ehlo.lines.join('|'))
    const auth = await c.cmd(authPlain(USER.name, USER.password))
    assert.equal(auth.line, '235 2.7.0 Authentication successful')
    const r = await c.send('alice@customer.test', ['friend@ext.test'], message('from the road'))
    await c.quit()
    assert.equal(r.end?.code, 250, r.end?.line)
    const received = env.sink.messages.at(-1)?.headers[0] ?? ''
    assert.match(received, /^Received: from roadwarrior\.test \(\S+ \[127\.0\.9\.66\]\) \(using TLSv1\.3 with cipher \S+\) \(authenticated sender: alice\) by relay\.test \(smarthost-guard\) with ESMTPSA id /)
    const tx = env.relay.logs.transactions().at(-1)!
    assert.equal((tx.session as { user: string }).user, 'alice')
  })

  it('authenticates with AUTH LOGIN over implicit TLS (port 465 style)', async () => {
    const c = await SmtpDialog.open({ port: env.relay.port('submissions'), localAddress: STRANGER, implicitTls: true })
    await c.greeting
    const ehlo = await c.cmd('EHLO roadwarrior.test')
    assert.ok(ehlo.lines.includes('AUTH PLAIN LOGIN'))
    assert.ok(!ehlo.lines.includes('STARTTLS'))
    assert.equal((await c.cmd('AUTH LOGIN')).code, 334)
    assert.equal((await c.cmd(b64(USER.name))).code, 334)
    assert.equal((await c.cmd(b64(USER.password))).code, 235)
    const r = await c.send('alice@customer.test', ['friend@ext.test'], message('over 465'))
    await c.quit()
    assert.equal(r.end?.code, 250)
  })

  it('refuses a wrong password with 535 5.7.8 and still refuses to relay', async () => {
    const c = await SmtpDialog.open({ port: env.relay.port('submission'), localAddress: STRANGER })
    await c.greeting
    await c.cmd('EHLO roadwarrior.test')
    await c.starttls()
    const wrong = await c.cmd(authPlain(USER.name, 'guess'))
    assert.equal(wrong.line, '535 5.7.8 Authentication credentials invalid; see https://postmaster.example.net/why/auth-failed')
    const unknown = await c.cmd(authPlain('mallory', 'guess'))
    assert.equal(unknown.code, 535)
    await c.cmd('MAIL FROM:<alice@customer.test>')
    const rcpt = await c.cmd('RCPT TO:<friend@ext.test>')
    await c.quit()
    assert.match(rcpt.line, /^554 5\.7\.1 <friend@ext\.test>: Relay access denied/)
  })

  it('does not offer AUTH at all on the inbound MX listener', async () => {
    const c = await SmtpDialog.open({ port: env.relay.port('mx'), localAddress: STRANGER })
    await c.greeting
    await c.cmd('EHLO mx.sender.test')
    const ehlo = await c.starttls('mx.sender.test')
    assert.ok(!ehlo.lines.some((l) => l.startsWith('AUTH')))
    const r = await c.cmd(authPlain(USER.name, USER.password))
    assert.equal(r.line, '500 5.5.2 Error: command not recognized')
    await c.quit()
  })
})
