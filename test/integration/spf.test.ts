import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { CheckResult } from '../../src/pipeline/types.js'
import { spfResults } from '../../src/metrics/dns-check-metrics.js'
import { relayWithDns } from '../helpers/dns-relay.js'
import { metricValue } from '../helpers/metrics.js'
import { USER } from '../helpers/relay.js'
import { authPlain, message, sendOne, SmtpDialog } from '../helpers/smtp-client.js'

const MSG = message('spf test')

describe('SPF through the relay with a DNS server on loopback', () => {
  const t = relayWithDns(['spf'], (p) => {
    p.egress = { addresses: ['127.0.0.25', '127.0.0.26'] }
    const out = p.instances.outbound
    out.relay.networks = ['127.0.0.0/8']
    out.checks = [{ check: 'mail.spf_outbound', hosted_domains: { 'isp.test': { networks: ['127.0.7.0/24'] } } }]
    p.instances.inbound.checks = [{ check: 'mail.spf_inbound' }]
  })
  const lastCheck = (id: string) => {
    const tx = t.relay.logs.transactions().at(-1)?.tx as { checks?: CheckResult[]; flags?: string[]; score?: number } | undefined
    return { tx, check: tx?.checks?.find((c) => c.check === id) }
  }

  describe('outbound: the sender domain for our egress addresses (and the client: test/integration/spf-two-sided.test.ts)', () => {
    const send = (from: string, localAddress = '127.0.0.1') =>
      sendOne(t.relay.port('submission'), from, ['bob@remote.test'], MSG, { localAddress, helo: 'pc.customer.test' })

    it('pass: relays, and records the result for each egress address', async () => {
      const r = await send('alice@pass.test')
      assert.equal(r.end?.code, 250)
      assert.equal(lastCheck('mail.spf_outbound').check?.detail, 'pass.test: egress pass for 127.0.0.25, pass for 127.0.0.26; client fail for 127.0.0.1')
    })

    it('pass through include, mx and a mechanisms, every lookup through the relay\u2019s resolver', async () => {
      const r = await send('office@customer-spf.test')
      assert.equal(r.end?.code, 250)
      assert.equal(t.dns.count('_spf.isp.test', 'TXT'), 1)
      assert.equal(t.dns.count('isp.test', 'MX'), 1)
      assert.equal(t.dns.count('mx.isp.test', 'A'), 1)
      assert.equal(t.dns.count('relay-out.isp.test', 'A'), 1)
    })

    it('fail: refuses the forged sender with 550 5.7.23, saying the domain does not allow this relay', async () => {
      const before = await metricValue(spfResults, { check: 'mail.spf_outbound', side: 'egress', result: 'fail' })
      const r = await send('security@bank.test')
      assert.equal(
        r.mail.line,
        "550 5.7.23 bank.test does not allow this relay to send its mail (SPF fail for 127.0.0.25); send it through bank.test's own mail servers, " +
          'or ask its administrator to authorize this relay; see https://postmaster.example.net/why/spf-forged-sender',
      )
      assert.equal((await metricValue(spfResults, { check: 'mail.spf_outbound', side: 'egress', result: 'fail' })) - before, 1)
    })

    it('fail for one of our egress addresses is a fail: the next hop may send from either', async () => {
      const r = await send('someone@half.test')
      assert.match(r.mail.line, /^550 5\.7\.23 half\.test does not allow this relay to send its mail \(SPF fail for 127\.0\.0\.26\)/)
    })

    it('softfail: relays with a score', async () => {
      const r = await send('someone@soft.test')
      assert.equal(r.end?.code, 250)
      const { tx } = lastCheck('mail.spf_outbound')
      assert.deepEqual(tx?.flags, ['SPF_SOFTFAIL'])
      assert.equal(tx?.score, 2)
    })

    it('temperror: defers with 451 4.7.24, never a 5xx', async () => {
      const r = await send('someone@slow.test')
      assert.equal(
        r.mail.line,
        '451 4.7.24 Temporary error evaluating the SPF record of slow.test; please try again later; see https://postmaster.example.net/why/spf-temperror',
      )
    })

    it('permerror: relays with a score by default', async () => {
      const r = await send('someone@broken.test')
      assert.equal(r.end?.code, 250)
      assert.deepEqual(lastCheck('mail.spf_outbound').tx?.flags, ['SPF_PERMERROR'])
    })

    it('neutral, none and the null sender say nothing against the sender', async () => {
      for (const from of ['someone@neutral.test', 'someone@nospf.test', '']) {
        const r = await send(from)
        assert.equal(r.end?.code, 250, from)
        assert.equal(lastCheck('mail.spf_outbound').check?.outcome, 'continue', from)
      }
    })

    it('a hosted domain\u2019s sender must log in, or send from the domain\u2019s networks', async () => {
      const stranger = await send('alice@isp.test')
      assert.equal(
        stranger.mail.line,
        '553 5.7.1 <alice@isp.test>: Sender address rejected: not logged in; authenticate with SMTP AUTH to send as an address of this domain; ' +
          'see https://postmaster.example.net/why/sender-not-logged-in',
      )
      assert.equal((await send('alice@isp.test', '127.0.7.5')).end?.code, 250)
      const c = await SmtpDialog.open({ port: t.relay.port('submission') })
      await c.greeting
      await c.cmd('EHLO pc.customer.test')
      await c.starttls('pc.customer.test')
      assert.equal((await c.cmd(authPlain(USER.name, USER.password))).code, 235)
      const r = await c.send('alice@isp.test', ['bob@remote.test'], MSG)
      await c.quit()
      assert.equal(r.end?.code, 250)
      assert.equal(lastCheck('mail.spf_outbound').check?.detail, 'hosted domain isp.test, logged in as alice')
    })
  })

  describe('inbound: the sender domain for the client address, with the headers', () => {
    const send = (from: string, client: string, helo = 'mx.sender.test') =>
      sendOne(t.relay.port('mx'), from, ['alice@example.org'], MSG, { localAddress: client, helo })
    const arrived = () => t.sink.messages.at(-1)!

    it('pass: adds Received-SPF and Authentication-Results above our Received header', async () => {
      const r = await send('news@pass.test', '127.0.6.1')
      assert.equal(r.end?.code, 250)
      const [spf, ar, received] = arrived().headers
      assert.equal(
        spf,
        'Received-SPF: pass (relay.test: domain of news@pass.test designates 127.0.6.1 as permitted sender) ' +
          'client-ip=127.0.6.1; envelope-from="news@pass.test"; helo=mx.sender.test; receiver=relay.test; identity=mailfrom;',
      )
      assert.equal(
        ar,
        'Authentication-Results: relay.test; spf=pass (relay.test: domain of news@pass.test designates 127.0.6.1 as permitted sender) ' +
          'smtp.mailfrom=news@pass.test smtp.helo=mx.sender.test',
      )
      assert.match(received ?? '', /^Received: from mx\.sender\.test /)
    })

    it('fail: refuses with 550 5.7.23', async () => {
      const r = await send('news@pass.test', '127.0.6.2')
      assert.equal(
        r.mail.line,
        '550 5.7.23 SPF fail: pass.test does not allow [127.0.6.2] to send its mail; see https://postmaster.example.net/why/spf-fail',
      )
    })

    it('softfail, permerror and none: relays with the result in the headers', async () => {
      for (const [from, result] of [
        ['news@soft.test', 'softfail'],
        ['news@broken.test', 'permerror'],
        ['news@nospf.test', 'none'],
      ] as const) {
        const r = await send(from, '127.0.6.1')
        assert.equal(r.end?.code, 250, from)
        const [spf, ar] = arrived().headers
        assert.match(spf ?? '', new RegExp(`^Received-SPF: ${result} \\(`), from)
        assert.match(ar ?? '', new RegExp(`^Authentication-Results: relay\\.test; spf=${result} `), from)
      }
    })

    it('permerror: says why in both trace fields, the explanation kept on one line', async () => {
      await send('news@broken.test', '127.0.6.1')
      const [spf, ar] = arrived().headers
      const why = 'relay.test: permanent error in processing during lookup of news@broken.test: multiple SPF records found for broken.test'
      assert.equal(
        spf,
        `Received-SPF: permerror (${why}) client-ip=127.0.6.1; envelope-from="news@broken.test"; helo=mx.sender.test; receiver=relay.test; identity=mailfrom;`,
      )
      assert.equal(ar, `Authentication-Results: relay.test; spf=permerror (${why}) smtp.mailfrom=news@broken.test smtp.helo=mx.sender.test`)
    })

    it('temperror: defers with 451 4.7.24', async () => {
      const r = await send('news@slow.test', '127.0.6.1')
      assert.match(r.mail.line, /^451 4\.7\.24 Temporary error evaluating the SPF record of slow\.test; please try again later/)
    })

    it('a bounce (null sender) is evaluated for the HELO identity', async () => {
      const r = await send('', '127.0.6.1', 'pass.test')
      assert.equal(r.end?.code, 250)
      assert.match(arrived().headers[0] ?? '', /^Received-SPF: pass \(.*\) client-ip=127\.0\.6\.1; envelope-from="postmaster@pass\.test"; helo=pass\.test; receiver=relay\.test; identity=helo;$/)
    })
  })
})
