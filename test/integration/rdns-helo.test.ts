import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { CheckResult } from '../../src/pipeline/types.js'
import { relayWithDns, TEST_LISTS } from '../helpers/dns-relay.js'
import { message, sendOne, SmtpDialog } from '../helpers/smtp-client.js'

const MSG = message('rdns and helo')

describe('reverse DNS and HELO heuristics against a DNS server on loopback', () => {
  const t = relayWithDns(['rdns', 'dnsbl'], (p) => {
    p.dns_lists = { lists: { zen: TEST_LISTS.zen } }
    // One of our egress addresses, written the way a policy might (upper case, a zero group spelled out).
    p.egress = { addresses: ['2001:DB8:0::25'] }
    const out = p.instances.outbound
    out.relay.networks = ['127.0.0.0/8', '::1/128']
    out.listeners = [...(out.listeners as unknown[]), { name: 'v6', address: '::1', port: 0, tls: 'none' }]
    out.checks = [
      { check: 'connect.rdns' },
      { check: 'helo.heuristics', ours: { default: 'reject' } },
      // What a PBL listing does depends on the class the rDNS check gave the client.
      { check: 'mail.dnsbl', lists: [{ list: 'zen', actions: { default: { tag: 1 }, 'residential-dynamic': 'reject' } }] },
    ]
    p.instances.inbound.checks = [{ check: 'connect.rdns', missing: { default: 'reject' } }]
  })

  /** Sends one message from `client` greeting with `helo`; returns the replies and the logged session. */
  async function session(client: string, helo = 'good.customer.test') {
    const replies = await sendOne(t.relay.port('submission'), 'alice@customer.test', ['bob@remote.test'], MSG, { localAddress: client, helo })
    const logged = t.relay.logs.transactions().filter((l) => (l.session.client as { address: string }).address === client).at(-1)
    const session = logged?.session as { clientClass: string; classBy: string; checks: CheckResult[] } | undefined
    const find = (id: string) => session?.checks.find((c) => c.check === id)
    return { replies, session, rdns: find('connect.rdns'), helo: find('helo.heuristics') }
  }

  it('forward-confirms a dynamic-looking PTR (address written dashed) and moves the client to residential-dynamic', async () => {
    const { rdns, session: s } = await session('127.0.5.7')
    assert.equal(s?.clientClass, 'residential-dynamic')
    assert.equal(s?.classBy, 'check connect.rdns')
    assert.deepEqual(rdns?.flags, ['RDNS_DYNAMIC'])
    assert.equal(
      rdns?.detail,
      'ptr=pool-127-0-5-7.phlapa.fios.verizon.test confirmed=yes; dynamic-looking name (address written dashed, pool, fios)',
    )
  })

  it('answers its own PTR lookup from the cache smtp-server filled before the greeting', async () => {
    t.dns.reset()
    await session('127.0.5.13')
    assert.equal(t.dns.count('13.5.0.127.in-addr.arpa', 'PTR'), 1)
  })

  it('finds dynamic names by a hex-written address and by labels alone', async () => {
    const hex = await session('127.0.5.10')
    assert.match(hex.rdns?.detail ?? '', /ptr=ip7f00050a\.dynamic\.kabel\.test confirmed=yes; dynamic-looking name \(address written hex, dynamic\)/)
    assert.equal(hex.session?.clientClass, 'residential-dynamic')
    const labels = await session('127.0.5.13')
    assert.match(labels.rdns?.detail ?? '', /ptr=pc13\.dyn\.isp\.test confirmed=yes; dynamic-looking name \(dyn\)/)
  })

  it('records a confirmed server name and says nothing against it', async () => {
    const { rdns, session: s, replies } = await session('127.0.5.11')
    assert.equal(rdns?.outcome, 'continue')
    assert.equal(rdns?.detail, 'ptr=mx.business.test confirmed=yes')
    assert.equal(s?.clientClass, 'unknown')
    assert.equal(replies.end?.code, 250)
  })

  it('tags a PTR name that does not resolve back to the client, and a client without PTR', async () => {
    const unconfirmed = await session('127.0.5.8')
    assert.deepEqual(unconfirmed.rdns?.flags, ['RDNS_UNCONFIRMED'])
    assert.equal(unconfirmed.rdns?.score, 1)
    assert.match(unconfirmed.rdns?.detail ?? '', /^ptr=mail\.customer\.test confirmed=no; mail\.customer\.test does not resolve back to 127\.0\.5\.8$/)
    const none = await session('127.0.5.9')
    assert.deepEqual(none.rdns?.flags, ['RDNS_NONE'])
    assert.equal(none.replies.end?.code, 250)
  })

  it('refuses a client without PTR at connect where the policy says so (550 5.7.25)', async () => {
    const c = await SmtpDialog.open({ port: t.relay.port('mx'), localAddress: '127.0.5.9' })
    const greeting = await c.greeting
    c.destroy()
    assert.equal(
      greeting.line,
      "550 5.7.25 Client host [127.0.5.9] has no reverse DNS (PTR) name; ask your provider for one, or send through your provider's mail server; see https://postmaster.example.net/why/rdns",
    )
  })

  it('fails open when the PTR lookup times out', async () => {
    const { rdns, replies } = await session('127.0.5.12')
    assert.deepEqual(rdns?.flags, ['RDNS_ERROR'])
    assert.equal(replies.end?.code, 250)
  })

  it('a list hit does what the policy says for the class the client ended up in', async () => {
    const dynamic = await session('127.0.5.7')
    assert.match(dynamic.replies.mail.line, /^554 5\.7\.1 Service unavailable; Client host \[127\.0\.5\.7\] blocked using zen\.dnsbl\.test \(PBL\)/)
    const server = await session('127.0.5.11')
    assert.equal(server.replies.end?.code, 250)
  })

  const HELO_CASES: [string, string, string[]][] = [
    ['a bare IP', '192.0.2.1', ['HELO_BARE_IP']],
    ['an address literal that is not the client\u2019s', '[192.0.2.1]', ['HELO_LITERAL_MISMATCH']],
    ['localhost', 'localhost', ['HELO_LOCALHOST']],
    ['a loopback literal', '[127.0.0.2]', ['HELO_LOCALHOST']],
    ['a name without a dot', 'workstation', ['HELO_NOT_FQDN']],
    ['the client\u2019s address in the name', 'dsl-127-0-5-11.isp.test', ['HELO_ENCODES_ADDRESS', 'HELO_NO_MATCH']],
    ['a name that resolves elsewhere', 'elsewhere.customer.test', ['HELO_NO_MATCH']],
    ['a name that does not resolve', 'nowhere.customer.test', ['HELO_NO_MATCH']],
  ]
  for (const [what, name, flags] of HELO_CASES) {
    it(`HELO: tags ${what} (${name})`, async () => {
      const { helo, replies } = await session('127.0.5.11', name)
      assert.deepEqual(helo?.flags, flags)
      assert.equal(helo?.outcome, 'tag')
      assert.equal(replies.end?.code, 250)
    })
  }

  it('HELO: says nothing against the client\u2019s own confirmed name or address literal', async () => {
    const named = await session('127.0.5.11', 'good.customer.test')
    assert.equal(named.helo?.outcome, 'continue', JSON.stringify(named.helo))
    const literal = await session('127.0.5.11', '[127.0.5.11]')
    assert.equal(literal.helo?.outcome, 'continue', JSON.stringify(literal.helo))
  })

  it('HELO: refuses our own name where the policy says so, at MAIL FROM', async () => {
    for (const name of ['relay.test', 'example.org']) {
      const { replies } = await session('127.0.5.11', name)
      assert.equal(
        replies.mail.line,
        `550 5.7.1 <${name.toLowerCase()}>: Helo command rejected: that is our own name or address; greet with your own host name; see https://postmaster.example.net/why/helo`,
      )
    }
  })

  it('HELO: takes any spelling of the client’s IPv6 address in a literal as its address', async () => {
    for (const literal of ['[IPv6:0:0:0:0:0:0:0:1]', '[ipv6:0::0:1]']) {
      const c = await SmtpDialog.open({ host: '::1', port: t.relay.port('v6'), localAddress: '::1' })
      await c.greeting
      await c.cmd(`EHLO ${literal}`)
      const replies = await c.send('alice@customer.test', ['bob@remote.test'], MSG)
      await c.quit()
      assert.equal(replies.end?.code, 250, literal)
      const logged = t.relay.logs.transactions().filter((l) => (l.session.client as { address: string }).address === '::1').at(-1)
      const helo = (logged?.session as { checks: CheckResult[] } | undefined)?.checks.find((x) => x.check === 'helo.heuristics')
      assert.equal(helo?.outcome, 'continue', `${literal}: ${JSON.stringify(helo)}`)
    }
  })

  it('HELO: refuses one of our own addresses, however it is written, where the policy says so', async () => {
    for (const name of ['[IPv6:2001:db8::25]', '[IPv6:2001:DB8:0:0:0:0:0:25]', '2001:db8::0:25']) {
      const { replies, helo } = await session('127.0.5.11', name)
      assert.equal(
        replies.mail.line,
        `550 5.7.1 <${name.toLowerCase()}>: Helo command rejected: that is our own name or address; greet with your own host name; see https://postmaster.example.net/why/helo`,
      )
      assert.ok(helo?.flags?.includes('HELO_OURS'), `${name}: ${JSON.stringify(helo)}`)
    }
  })
})
