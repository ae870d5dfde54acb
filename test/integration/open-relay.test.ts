import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { message, SmtpDialog } from '../helpers/smtp-client.js'
import { relayWithSink } from '../helpers/relay.js'

// A client outside every relay network and not authenticated: 127.0.9.66 is loopback, but not
// in relay.networks (127.0.0.1/32, ::1/128).
const STRANGER = '127.0.9.66'

// Each trick, as the RCPT TO argument, with the reply a safe relay gives. example.net and
// example.org are the inbound instance's local domains; ext.test is somebody else's.
const TRICKS: { name: string; rcpt: string; outbound: RegExp; inbound: RegExp }[] = [
  { name: 'plain non-local', rcpt: '<u@ext.test>', outbound: /^554 5\.7\.1 <u@ext\.test>: Relay access denied/, inbound: /^554 5\.7\.1 <u@ext\.test>: Relay access denied/ },
  { name: 'percent hack', rcpt: '<u%ext.test@example.net>', outbound: /^554 5\.7\.1 .*Relay access denied/, inbound: /^550 5\.7\.1 <u%ext\.test@example\.net>: Sender-specified routing/ },
  { name: 'percent hack, valid-list domain', rcpt: '<alice%ext.test@example.org>', outbound: /^554 5\.7\.1 .*Relay access denied/, inbound: /^550 5\.7\.1 .*Sender-specified routing/ },
  { name: 'bang path', rcpt: '<ext.test!u>', outbound: /^501 5\.1\.3 /, inbound: /^501 5\.1\.3 / },
  { name: 'bang path at a local domain', rcpt: '<ext.test!u@example.net>', outbound: /^554 5\.7\.1 .*Relay access denied/, inbound: /^550 5\.7\.1 .*Sender-specified routing/ },
  { name: 'source route', rcpt: '<@example.net:u@ext.test>', outbound: /^554 5\.7\.1 <u@ext\.test>: Relay access denied/, inbound: /^554 5\.7\.1 <u@ext\.test>: Relay access denied/ },
  { name: 'source route with two hops', rcpt: '<@example.net,@relay.test:u@ext.test>', outbound: /^554 5\.7\.1 <u@ext\.test>: Relay/, inbound: /^554 5\.7\.1 <u@ext\.test>: Relay/ },
  { name: 'quoted local part with @', rcpt: '<"u@ext.test"@example.net>', outbound: /^501 5\.1\.3 /, inbound: /^501 5\.1\.3 / },
  { name: 'quoted local part with %', rcpt: '<"u%ext.test"@example.net>', outbound: /^554 5\.7\.1 .*Relay access denied/, inbound: /^550 5\.7\.1 .*Sender-specified routing/ },
  { name: 'two @', rcpt: '<u@ext.test@example.net>', outbound: /^501 5\.1\.3 /, inbound: /^501 5\.1\.3 / },
  { name: 'colon route inside local part', rcpt: '<ext.test:u@example.net>', outbound: /^554 5\.7\.1 .*Relay access denied/, inbound: /^550 5\.7\.1 .*Sender-specified routing/ },
  { name: 'address literal', rcpt: '<u@[127.0.0.1]>', outbound: /^554 5\.7\.1 .*Relay access denied/, inbound: /^554 5\.7\.1 .*Relay access denied/ },
  { name: 'local domain with trailing dot', rcpt: '<u@ext.test.>', outbound: /^501 5\.1\.3 /, inbound: /^501 5\.1\.3 / },
  { name: 'upper-case non-local', rcpt: '<U@EXT.TEST>', outbound: /^554 5\.7\.1 .*Relay access denied/, inbound: /^554 5\.7\.1 .*Relay access denied/ },
  { name: 'empty', rcpt: '<>', outbound: /^501 5\.1\.3 /, inbound: /^501 5\.1\.3 / },
  { name: 'no angle brackets', rcpt: 'u@ext.test', outbound: /^501 5\.1\.3 /, inbound: /^501 5\.1\.3 / },
  { name: 'unbalanced brackets', rcpt: '<u@ext.test', outbound: /^501 5\.1\.3 /, inbound: /^501 5\.1\.3 / },
  { name: 'control character', rcpt: '<u\x00@ext.test>', outbound: /^501 5\.1\.3 /, inbound: /^501 5\.1\.3 / },
  { name: 'domainless non-postmaster', rcpt: '<root>', outbound: /^501 5\.1\.3 /, inbound: /^501 5\.1\.3 / },
]

describe('no open relay, whatever the address trick', () => {
  const env = relayWithSink()

  for (const instance of ['outbound', 'inbound'] as const) {
    for (const trick of TRICKS) {
      it(`${instance}: refuses ${trick.name} (${JSON.stringify(trick.rcpt)}) from an unauthorized client`, async () => {
        const c = await SmtpDialog.open({ port: env.relay.port(instance === 'outbound' ? 'submission' : 'mx'), localAddress: STRANGER })
        await c.greeting
        await c.cmd('EHLO stranger.test')
        assert.equal((await c.cmd('MAIL FROM:<spammer@ext.test>')).code, 250)
        const r = await c.cmd(`RCPT TO:${trick.rcpt}`)
        assert.match(r.line, instance === 'outbound' ? trick.outbound : trick.inbound)
        // Whatever was said to RCPT, DATA must not start.
        const data = await c.cmd('DATA')
        assert.equal(data.code, 503)
        await c.quit()
        assert.equal(env.sink.messages.length, 0)
      })
    }
  }

  it('accepts valid local recipients on the inbound instance from anyone', async () => {
    const c = await SmtpDialog.open({ port: env.relay.port('mx'), localAddress: STRANGER })
    await c.greeting
    await c.cmd('EHLO mx.sender.test')
    const r = await c.send('news@sender.test', ['anyone@example.net', 'alice+tag@example.org', 'postmaster@example.org', '<postmaster>'.slice(1, -1)], message('hi'))
    await c.quit()
    assert.deepEqual(r.rcpt.map((x) => x.code), [250, 250, 250, 250])
    assert.equal(r.end?.code, 250)
    assert.deepEqual(env.sink.messages.at(-1)?.to, ['anyone@example.net', 'alice+tag@example.org', 'postmaster@example.org', 'postmaster'])
    env.sink.messages.length = 0
  })

  it('refuses unknown and invalid local recipients on the inbound instance with 550 5.1.1', async () => {
    const c = await SmtpDialog.open({ port: env.relay.port('mx'), localAddress: STRANGER })
    await c.greeting
    await c.cmd('EHLO mx.sender.test')
    await c.cmd('MAIL FROM:<news@sender.test>')
    const unknown = await c.cmd('RCPT TO:<carol@example.org>')
    const invalid = await c.cmd('RCPT TO:<root@example.org>')
    await c.quit()
    assert.equal(unknown.line, '550 5.1.1 <carol@example.org>: Recipient address rejected: no such mailbox here; see https://postmaster.example.net/why/unknown-recipient')
    assert.match(invalid.line, /^550 5\.1\.1 <root@example\.org>: Recipient address rejected/)
  })

  it('relays for the relay network and refuses the same message from outside it', async () => {
    for (const [source, expected] of [['127.0.0.1', 250], [STRANGER, 554]] as const) {
      const c = await SmtpDialog.open({ port: env.relay.port('submission'), localAddress: source })
      await c.greeting
      await c.cmd('EHLO pc.test')
      await c.cmd('MAIL FROM:<a@customer.test>')
      const r = await c.cmd('RCPT TO:<b@ext.test>')
      await c.quit()
      assert.equal(r.code, expected, `${source}: ${r.line}`)
    }
  })
})
