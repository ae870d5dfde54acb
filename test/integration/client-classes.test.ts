import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { relayWithSink } from '../helpers/relay.js'
import { message, SmtpDialog } from '../helpers/smtp-client.js'
import type { Reply } from '../helpers/smtp-client.js'

// Loopback addresses play customers: 127.0.9.0/24 is a residential pool, 127.0.8.0/24 a
// business range. The residential class may send 3 messages a minute, business 100.
const RESIDENTIAL = '127.0.9.10'
const BUSINESS = '127.0.8.10'

/** Sends `n` messages over one session; returns the MAIL replies and the end-of-DATA replies. */
async function burst(port: number, localAddress: string, n: number, tag: string): Promise<{ mail: Reply[]; end: (Reply | undefined)[] }> {
  const c = await SmtpDialog.open({ port, localAddress })
  await c.greeting
  await c.cmd('EHLO pc.customer.test')
  const mail: Reply[] = []
  const end: (Reply | undefined)[] = []
  for (let i = 0; i < n; i++) {
    const r = await c.send(`${tag}@customer.test`, [`friend${i}@ext.test`], message(`${tag} ${i}`))
    mail.push(r.mail)
    end.push(r.end)
  }
  await c.quit()
  return { mail, end }
}

describe('client classes: a residential burst is throttled while a business sends on', () => {
  const env = relayWithSink({}, (p) => {
    const out = p.instances.outbound
    out.relay.networks = ['127.0.0.0/8']
    out.classes = {
      networks: [
        { class: 'residential-dynamic', cidrs: ['127.0.9.0/24'] },
        { class: 'business-static', cidrs: ['127.0.8.0/24'] },
        // Listed after the business range, but a deny list: it wins for this one address.
        { class: 'suspect', list: 'deny', cidrs: ['127.0.8.66/32'] },
      ],
      overrides: { cidrs: { '127.0.9.200/32': 'business-static' }, users: {}, sender_domains: { 'bulk.example': 'bulk' } },
    }
    out.checks = [
      {
        check: 'mail.rate',
        limits: { address: { default: '100/1m', 'residential-dynamic': '3/1m', suspect: '1/1m', bulk: '2/1m' } },
      },
    ]
  })

  it('defers the 4th message of a residential address with 451 4.7.1 while a business address at the same time gets every one through', async () => {
    const port = env.relay.port('submission')
    const before = env.sink.messages.length
    const [home, office] = await Promise.all([burst(port, RESIDENTIAL, 8, 'home'), burst(port, BUSINESS, 8, 'office')])
    assert.deepEqual(
      home.mail.map((r) => r.code),
      [250, 250, 250, 451, 451, 451, 451, 451],
    )
    assert.match(
      home.mail[3]?.line ?? '',
      /^451 4\.7\.1 Message rate limit reached for your address 127\.0\.9\.10 \(limit 3 per 1m\); try again in \d+ s; see https:\/\/postmaster\.example\.net\/why\/rate-limited$/,
    )
    assert.deepEqual(
      office.mail.map((r) => r.code),
      Array(8).fill(250),
    )
    assert.deepEqual(
      office.end.map((r) => r?.code),
      Array(8).fill(250),
    )
    const arrived = env.sink.messages.slice(before)
    assert.equal(arrived.filter((m) => m.from === 'home@customer.test').length, 3)
    assert.equal(arrived.filter((m) => m.from === 'office@customer.test').length, 8)
  })

  it('records the class and why it was chosen in every transaction record', () => {
    const txs = env.relay.logs.transactions()
    const home = txs.find((t) => (t.tx as { mailFrom: string }).mailFrom === 'home@customer.test')
    const office = txs.find((t) => (t.tx as { mailFrom: string }).mailFrom === 'office@customer.test')
    assert.equal(home?.session.clientClass, 'residential-dynamic')
    assert.equal(home?.session.classBy, 'network networks[0] (allow list)')
    assert.equal(office?.session.clientClass, 'business-static')
    const refused = txs.find((t) => (t.tx as { mailFrom: string; outcome: string }).mailFrom === 'home@customer.test' && t.tx.outcome === 'tempfailed')
    const check = (refused?.tx.checks as { check: string; flags?: string[]; detail?: string }[]).find((c) => c.check === 'mail.rate')
    assert.deepEqual(check?.flags, ['RATE_MESSAGE_ADDRESS'])
    assert.match(check?.detail ?? '', /^4 messages from your address 127\.0\.9\.10 \(limit 3 per 1m for class residential-dynamic\)$/)
  })

  it('evaluates deny lists before allow lists, and a CIDR override before both', async () => {
    const port = env.relay.port('submission')
    const suspect = await burst(port, '127.0.8.66', 2, 'suspect')
    assert.deepEqual(
      suspect.mail.map((r) => r.code),
      [250, 451],
    )
    const vip = await burst(port, '127.0.9.200', 5, 'vip')
    assert.deepEqual(
      vip.mail.map((r) => r.code),
      Array(5).fill(250),
    )
    const txs = env.relay.logs.transactions()
    const classOf = (from: string) => txs.find((t) => (t.tx as { mailFrom: string }).mailFrom === from)?.session
    assert.equal(classOf('suspect@customer.test')?.classBy, 'network networks[2] (deny list)')
    assert.equal(classOf('vip@customer.test')?.clientClass, 'business-static')
    assert.equal(classOf('vip@customer.test')?.classBy, 'override cidr 127.0.9.200/32')
  })

  it('gives a transaction the class of its sender domain override, and the next one its own again', async () => {
    const c = await SmtpDialog.open({ port: env.relay.port('submission'), localAddress: '127.0.8.20' })
    await c.greeting
    await c.cmd('EHLO office.test')
    const codes: number[] = []
    for (let i = 0; i < 3; i++) codes.push((await c.send('news@bulk.example', ['x@ext.test'], message(`bulk ${i}`))).mail.code)
    const own = await c.send('boss@office.test', ['x@ext.test'], message('own'))
    await c.quit()
    assert.deepEqual(codes, [250, 250, 451])
    assert.equal(own.mail.code, 250)
    const txs = env.relay.logs.transactions().filter((t) => t.session.client && (t.session.client as { address: string }).address === '127.0.8.20')
    assert.equal(txs.at(-1)?.session.clientClass, 'business-static')
  })
})
