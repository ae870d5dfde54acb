import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { dkimSign } from 'mailauth/lib/dkim/sign.js'
import { after, before, describe, it } from 'node:test'
import { hashPassword } from '../../src/auth/password.js'
import { dmarcLookups } from '../../src/metrics/dmarc-metrics.js'
import type { CheckResult } from '../../src/pipeline/types.js'
import { relayWithDns } from '../helpers/dns-relay.js'
import { startDnsServer } from '../helpers/dns-server.js'
import type { TestDnsServer } from '../helpers/dns-server.js'
import { metricValue } from '../helpers/metrics.js'
import { startRelay, testPolicy } from '../helpers/relay.js'
import type { TestRelay } from '../helpers/relay.js'
import { startSink } from '../helpers/sink.js'
import type { Sink } from '../helpers/sink.js'
import { authPlain, sendOne, SmtpDialog } from '../helpers/smtp-client.js'

// data.from_dmarc and the fields the relay adds, over real SMTP with a real DNS server serving
// test/fixtures/zones/dmarc.yaml. The customer sends as alice@customer.test from a relay network.

const URL_BASE = 'https://postmaster.example.net/why'

/** A message with this From: and, before it, the `extra` header lines as they are. */
function message(from: string, extra: readonly string[] = []): string {
  return [...extra, `From: ${from}`, 'To: bob@remote.test', 'Subject: Monday', 'Message-ID: <m1@pc.customer.test>', '', 'Hello Bob.', ''].join('\r\n')
}

describe('DMARC-aware header From through the relay', () => {
  const t = relayWithDns(['dmarc'], (p) => {
    p.egress = { addresses: ['127.0.0.25'] }
    const out = p.instances.outbound
    out.relay.networks = ['127.0.0.0/8']
    out.added_headers = { guard: true, authentication_results: true }
    out.checks = [{ check: 'mail.spf_outbound' }, { check: 'data.from_dmarc' }]
  })
  const send = (from: string, sender = 'alice@customer.test', extra: readonly string[] = []) =>
    sendOne(t.relay.port('submission'), sender, ['bob@remote.test'], message(from, extra), { helo: 'pc.customer.test' })
  const lastTx = () => t.relay.logs.transactions().at(-1)?.tx as { checks?: CheckResult[]; flags?: string[]; score?: number } | undefined
  const dmarcCheck = () => lastTx()?.checks?.find((c) => c.check === 'data.from_dmarc')
  const arrived = () => t.sink.messages.at(-1)!
  const field = (name: string) => arrived().headers.filter((h) => h.toLowerCase().startsWith(`${name.toLowerCase()}:`))

  it('refuses a From: domain with p=reject the message cannot align with: 550 5.7.1 naming the domain and what to do', async () => {
    const before = await metricValue(dmarcLookups, { relay_instance: 'outbound', policy: 'reject' })
    const sunk = t.sink.messages.length
    const r = await send('Security Team <security@bank.test>')
    assert.equal(
      r.end?.line,
      '550 5.7.1 Header From: bank.test publishes DMARC p=reject; this relay cannot send mail that claims to be from it for the sender <alice@customer.test>; ' +
        `put an address of your own domain in From:, or send through bank.test's own mail servers; see ${URL_BASE}/dmarc-from`,
    )
    assert.equal(t.sink.messages.length, sunk)
    assert.deepEqual(dmarcCheck()?.flags, ['FROM_DMARC_REJECT'])
    assert.equal((await metricValue(dmarcLookups, { relay_instance: 'outbound', policy: 'reject' })) - before, 1)
  })

  it('refuses a From: domain with p=quarantine the same way', async () => {
    const r = await send('billing@junk.test')
    assert.match(r.end?.line ?? '', /^550 5\.7\.1 Header From: junk\.test publishes DMARC p=quarantine; this relay cannot send mail/)
  })

  it('relays a From: domain with p=none, tagged, and tells the next hop in X-Smarthost-Guard and Authentication-Results', async () => {
    const r = await send('news@monitor.test')
    assert.equal(r.end?.code, 250, r.end?.line)
    assert.deepEqual(lastTx()?.flags, ['FROM_DMARC_NONE'])
    assert.equal(lastTx()?.score, 1)
    assert.deepEqual(field('X-Smarthost-Guard'), ['X-Smarthost-Guard: score=1; flags=FROM_DMARC_NONE'])
    assert.deepEqual(field('Authentication-Results'), [
      'Authentication-Results: relay.test; spf=pass (egress 127.0.0.25) smtp.mailfrom=alice@customer.test; dmarc=fail (p=none) header.from=monitor.test',
    ])
    // Our fields come first, above our Received.
    assert.match(arrived().headers[2] ?? '', /^Received: from pc\.customer\.test /)
  })

  it('relays a From: domain without a DMARC record, tagged, with dmarc=none', async () => {
    const r = await send('someone@nodmarc.test')
    assert.equal(r.end?.code, 250, r.end?.line)
    assert.deepEqual(lastTx()?.flags, ['FROM_DMARC_NO_RECORD'])
    assert.deepEqual(field('X-Smarthost-Guard'), ['X-Smarthost-Guard: score=1; flags=FROM_DMARC_NO_RECORD'])
    assert.match(field('Authentication-Results')[0] ?? '', /; dmarc=none header\.from=nodmarc\.test$/)
  })

  it('relays an aligned From: untouched (subdomain of the sender\u2019s domain, same organizational domain) without looking DMARC up', async () => {
    t.dns.reset()
    const sub = await send('news@mail.customer.test')
    assert.equal(sub.end?.code, 250, sub.end?.line)
    assert.equal(dmarcCheck(), undefined)
    assert.deepEqual(field('X-Smarthost-Guard'), ['X-Smarthost-Guard: score=0; flags='])
    assert.deepEqual(field('Authentication-Results'), ['Authentication-Results: relay.test; spf=pass (egress 127.0.0.25) smtp.mailfrom=alice@customer.test'])
    // The bank's own newsletter platform: envelope at a subdomain, From: at the bank.
    const org = await send('security@bank.test', 'bounces@mail.bank.test')
    assert.equal(org.end?.code, 250, org.end?.line)
    assert.equal(t.dns.count('_dmarc.mail.customer.test') + t.dns.count('_dmarc.customer.test') + t.dns.count('_dmarc.bank.test'), 0)
  })

  it('applies sp= to a subdomain of a domain whose record is found at the organizational domain', async () => {
    const sub = await send('x@news.parent.test')
    assert.equal(sub.end?.code, 250, sub.end?.line)
    assert.deepEqual(lastTx()?.flags, ['FROM_DMARC_NONE'])
    assert.equal(dmarcCheck()?.detail, 'news.parent.test: DMARC p=none (organizational domain) (not aligned with customer.test)')
    const top = await send('x@parent.test')
    assert.match(top.end?.line ?? '', /^550 5\.7\.1 Header From: parent\.test publishes DMARC p=reject;/)
  })

  it('applies the next milder policy while a domain rolls DMARC out (pct below 100, t=y)', async () => {
    // p=reject pct=20: quarantine, which is refused by default, naming the published policy.
    const partial = await send('x@partial.test')
    assert.match(partial.end?.line ?? '', /^550 5\.7\.1 Header From: partial\.test publishes DMARC p=reject;/)
    assert.equal(dmarcCheck()?.detail, 'partial.test: DMARC p=reject pct=20 (applied as quarantine) (not aligned with customer.test)')
    for (const from of ['x@halfjunk.test', 'x@trial.test']) {
      const r = await send(from)
      assert.equal(r.end?.code, 250, `${from}: ${r.end?.line}`)
      assert.deepEqual(lastTx()?.flags, ['FROM_DMARC_NONE'], from)
    }
  })

  it('defers with 451 4.4.3 when the DMARC lookup times out or fails, never a 5xx', async () => {
    for (const domain of ['slow.test', 'broken.test']) {
      const r = await send(`x@${domain}`)
      assert.equal(
        r.end?.line,
        `451 4.4.3 Temporary DNS failure while checking the DMARC policy of ${domain}; please try again later; see ${URL_BASE}/dns-failure`,
      )
    }
  })

  it('relays From: a p=reject domain that DKIM-signed the message (an ESP sending for its customer), and refuses a broken signature', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
    const spki = publicKey.export({ type: 'spki', format: 'der' }).toString('base64')
    t.dns.define('esp2026._domainkey.bank.test', { TXT: [`v=DKIM1; k=rsa; p=${spki}`] })
    const signed = async (raw: string) => {
      const pem = privateKey.export({ type: 'pkcs8', format: 'pem' })
      const key = { signingDomain: 'bank.test', selector: 'esp2026', privateKey: pem }
      // mailauth signs with signatureData; its types also ask for the fields at the top.
      const { signatures } = await dkimSign(raw, { ...key, signatureData: [key] })
      return signatures + raw
    }
    const port = t.relay.port('submission')
    const ok = await sendOne(port, 'bounces-4711@esp.test', ['bob@remote.test'], await signed(message('Bank News <news@bank.test>')))
    assert.equal(ok.end?.code, 250, ok.end?.line)
    assert.equal(dmarcCheck()?.detail, 'bank.test: aligned by a DKIM signature of bank.test (not aligned with esp.test)')
    assert.match(field('Authentication-Results')[0] ?? '', /; dkim=pass header\.d=bank\.test; dmarc=pass \(p=reject\) header\.from=bank\.test$/)
    // The body changed after signing: the signature fails, and the envelope does not align.
    const tampered = (await signed(message('Bank News <news@bank.test>'))).replace('Hello Bob.', 'Hello Bob, click here.')
    const bad = await sendOne(port, 'bounces-4711@esp.test', ['bob@remote.test'], tampered)
    assert.match(bad.end?.line ?? '', /^550 5\.7\.1 Header From: bank\.test publishes DMARC p=reject;/)
  })

  it('removes forged copies of X-Smarthost-Guard and of our Authentication-Results, and keeps other hosts\u2019 ones', async () => {
    const forged = [
      'X-Smarthost-Guard: score=0;',
      '\tflags=',
      'Authentication-Results: mx.elsewhere.test; spf=pass smtp.mailfrom=alice@customer.test',
      'Subject: early',
      'authentication-results: RELAY.test; dmarc=pass header.from=bank.test',
    ]
    const r = await send('news@monitor.test', 'alice@customer.test', forged)
    assert.equal(r.end?.code, 250, r.end?.line)
    assert.deepEqual(field('X-Smarthost-Guard'), ['X-Smarthost-Guard: score=1; flags=FROM_DMARC_NONE,HDR_FORGED_GUARD'])
    assert.deepEqual(lastTx()?.flags, ['FROM_DMARC_NONE', 'HDR_FORGED_GUARD'])
    assert.deepEqual(field('Authentication-Results'), [
      'Authentication-Results: relay.test; spf=pass (egress 127.0.0.25) smtp.mailfrom=alice@customer.test; dmarc=fail (p=none) header.from=monitor.test',
      'Authentication-Results: mx.elsewhere.test; spf=pass smtp.mailfrom=alice@customer.test',
    ])
    assert.ok(arrived().headers.includes('Subject: early'))
    // The removed fields leave the rest of the header and the empty line before the body as they were.
    assert.match(arrived().text, /\r\nSubject: early\r\nFrom: news@monitor\.test\r\n[^]*<m1@pc\.customer\.test>\r\n\r\nHello Bob\.\r\n/)
    // One forged field, the message's first: cut and said as well.
    const first = await send('news@monitor.test', 'alice@customer.test', ['X-Smarthost-Guard: score=0; flags=', 'Subject: first'])
    assert.equal(first.end?.code, 250, first.end?.line)
    assert.deepEqual(lastTx()?.flags, ['FROM_DMARC_NONE', 'HDR_FORGED_GUARD'])
    assert.deepEqual(field('X-Smarthost-Guard'), ['X-Smarthost-Guard: score=1; flags=FROM_DMARC_NONE,HDR_FORGED_GUARD'])
    // The field after it survives whole: our fields and Received first, then the client's remaining fields in order.
    assert.deepEqual(field('Subject'), ['Subject: first', 'Subject: Monday'])
    const headers = arrived().headers
    assert.deepEqual(headers.slice(0, 2), [
      'Authentication-Results: relay.test; spf=pass (egress 127.0.0.25) smtp.mailfrom=alice@customer.test; dmarc=fail (p=none) header.from=monitor.test',
      'X-Smarthost-Guard: score=1; flags=FROM_DMARC_NONE,HDR_FORGED_GUARD',
    ])
    assert.match(headers[2] ?? '', /^Received: from pc\.customer\.test /)
    assert.deepEqual(headers.slice(3), ['Subject: first', 'From: news@monitor.test', 'To: bob@remote.test', 'Subject: Monday', 'Message-ID: <m1@pc.customer.test>'])
    assert.match(arrived().text, /\r\nSubject: first\r\nFrom: news@monitor\.test\r\n[^]*<m1@pc\.customer\.test>\r\n\r\nHello Bob\.\r\n/)
  })
})

describe('DMARC-aware header From: the logged-in user\u2019s domain aligns', () => {
  let dns: TestDnsServer
  let sink: Sink
  let relay: TestRelay
  before(async () => {
    dns = await startDnsServer({ zones: ['dmarc'] })
    sink = await startSink()
    const users = `ceo@bank.test:${await hashPassword('s3cret pass')}\n`
    relay = await startRelay(
      testPolicy([sink.port], (p) => {
        p.dns = { servers: [dns.server], timeout: '300ms', tries: 1 }
        p.instances.outbound.relay = { networks: [], credentials: 'bank.passwd' }
        p.instances.outbound.checks = [{ check: 'data.from_dmarc' }]
      }),
      { files: { 'bank.passwd': users } },
    )
  })
  after(async () => {
    await relay.close()
    await sink.close()
    await dns.close()
  })

  it('relays From: the bank for its logged-in user, whatever the envelope sender', async () => {
    const c = await SmtpDialog.open({ port: relay.port('submission') })
    await c.greeting
    await c.cmd('EHLO pc.bank.test')
    await c.starttls('pc.bank.test')
    assert.equal((await c.cmd(authPlain('ceo@bank.test', 's3cret pass'))).code, 235)
    const r = await c.send('bounces@esp.test', ['bob@remote.test'], message('CEO <ceo@bank.test>'))
    await c.quit()
    assert.equal(r.end?.code, 250, r.end?.line)
    assert.equal(dns.count('_dmarc.bank.test'), 0)
  })
})
