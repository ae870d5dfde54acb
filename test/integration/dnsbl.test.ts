import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { stringify } from 'yaml'
import { configIssues, parsePolicy } from '../../src/config/load.js'
import { dnsListHealthy, dnsListLookups } from '../../src/metrics/dns-check-metrics.js'
import { relayWithDns, TEST_LISTS } from '../helpers/dns-relay.js'
import { startDnsServer } from '../helpers/dns-server.js'
import type { TestDnsServer } from '../helpers/dns-server.js'
import { metricValue } from '../helpers/metrics.js'
import { startRelay, testPolicy, waitFor } from '../helpers/relay.js'
import type { TestRelay } from '../helpers/relay.js'
import { startSink } from '../helpers/sink.js'
import type { Sink } from '../helpers/sink.js'
import { message, sendOne, SmtpDialog } from '../helpers/smtp-client.js'

const MSG = message('dnsbl test')

describe('DNS block and allow lists against a DNS server on loopback', () => {
  const t = relayWithDns(['dnsbl'], (p) => {
    p.dns.timeout = '1s'
    p.dns_lists = { lists: TEST_LISTS }
    const out = p.instances.outbound
    out.relay.networks = ['127.0.0.0/8', '::1/128']
    out.listeners = [...(out.listeners as unknown[]), { name: 'v6', address: '::1', port: 0, tls: 'none' }]
    out.checks = [
      {
        check: 'mail.dnsbl',
        deadline: '200ms',
        lists: [
          { list: 'wl', sub_lists: { LOW: { default: { tag: -2 } } } },
          { list: 'zen', sub_lists: { PBL: { default: { tag: 2 } } } },
          { list: 'world' },
          { list: 'silent' },
          { list: 'dead' },
          { list: 'slow' },
          { list: 'dbl', query: 'sender' },
          { list: 'dbl', query: 'helo' },
        ],
      },
    ]
    p.instances.inbound.checks = [{ check: 'mail.dnsbl', deadline: '200ms', on_timeout: 'tempfail', lists: [{ list: 'slow' }] }]
  })
  const send = (localAddress: string, opts: { from?: string; helo?: string } = {}) =>
    sendOne(t.relay.port('submission'), opts.from ?? 'alice@customer.test', ['bob@remote.test'], MSG, {
      localAddress,
      helo: opts.helo ?? 'pc.customer.test',
    })
  const lastTx = () => t.relay.logs.transactions().at(-1)!

  it('refuses a listed client at MAIL FROM with the list\u2019s name, sub-list and lookup URL', async () => {
    const r = await send('127.0.9.2')
    assert.equal(
      r.mail.line,
      '554 5.7.1 Service unavailable; Client host [127.0.9.2] blocked using zen.dnsbl.test (SBL); ' +
        'look it up at https://lists.test/zen?q=127.0.9.2; see https://postmaster.example.net/why/dnsbl',
    )
    assert.deepEqual(lastTx().tx.flags, ['DNSBL_ZEN_SBL'])
  })

  it('looks a clean client up by its reversed octets and relays its mail', async () => {
    const before = t.sink.messages.length
    const r = await send('127.0.9.99')
    assert.equal(r.end?.code, 250)
    assert.equal(t.sink.messages.length, before + 1)
    assert.equal(t.dns.count('99.9.0.127.zen.dnsbl.test', 'A'), 1)
  })

  it('answers the same client\u2019s next message from the cache: no new query reaches the server', async () => {
    await send('127.0.9.99')
    await send('127.0.9.99')
    assert.equal(t.dns.count('99.9.0.127.zen.dnsbl.test', 'A'), 1)
  })

  it('sends one query for the same client connecting several times at once', async () => {
    // A slow answer (clean, after 150 ms), so that every session asks while the first query is in flight.
    t.dns.define('77.9.0.127.zen.dnsbl.test', { delay_ms: 150 })
    const replies = await Promise.all(Array.from({ length: 5 }, () => send('127.0.9.77')))
    assert.ok(replies.every((r) => r.end?.code === 250))
    assert.equal(t.dns.count('77.9.0.127.zen.dnsbl.test', 'A'), 1)
  })

  it('names the sub-list from the return code, and applies that sub-list\u2019s action', async () => {
    assert.match((await send('127.0.9.4')).mail.line, /^554 5\.7\.1 Service unavailable; Client host \[127\.0\.9\.4\] blocked using zen\.dnsbl\.test \(XBL\);/)
    // PBL is only a score here; XBL in the same answer still refuses.
    assert.match((await send('127.0.9.11')).mail.line, /blocked using zen\.dnsbl\.test \(XBL\)/)
    const r = await send('127.0.9.10')
    assert.equal(r.end?.code, 250)
    const tx = lastTx().tx
    assert.deepEqual(tx.flags, ['DNSBL_ZEN_PBL'])
    assert.equal(tx.score, 2)
    assert.match(String((tx.checks as { detail: string }[])[0]?.detail), /zen\(127\.0\.0\.10 PBL\)/)
  })

  it('takes an answer outside the listing range (127.255.255.x) as no answer, not as a listing', async () => {
    const r = await send('127.0.9.12')
    assert.equal(r.end?.code, 250)
    assert.deepEqual(lastTx().tx.flags, ['DNSBL_ZEN_ERROR'])
  })

  it('looks an IPv6 client up in nibble form', async () => {
    const c = await SmtpDialog.open({ host: '::1', port: t.relay.port('v6') })
    await c.greeting
    await c.cmd('EHLO v6.customer.test')
    const r = await c.cmd('MAIL FROM:<alice@customer.test>')
    await c.quit()
    assert.match(r.line, /^554 5\.7\.1 Service unavailable; Client host \[::1\] blocked using zen\.dnsbl\.test \(XBL\)/)
    assert.equal(t.dns.count(`1.${'0.'.repeat(31)}zen.dnsbl.test`, 'A'), 1)
  })

  it('marks a list that lists 127.0.0.1, one that never answers and one that lists nothing unhealthy, and skips them', async () => {
    assert.equal(await metricValue(dnsListHealthy, { list: 'zen' }), 1)
    for (const list of ['world', 'silent', 'dead']) assert.equal(await metricValue(dnsListHealthy, { list }), 0, list)
    const events = t.relay.logs.lines.filter((l) => l.event === 'dnslist_unhealthy')
    const reason = (list: string) => String(events.find((e) => e.list === list)?.reason)
    assert.match(reason('world'), /lists the test point 1\.0\.0\.127\.world\.dnsbl\.test that must never be listed/)
    assert.match(reason('silent'), /no usable answer for its test points \(timeout\)/)
    assert.match(reason('dead'), /does not list its test point 2\.0\.0\.127\.dead\.dnsbl\.test/)
    const skipped = await metricValue(dnsListLookups, { list: 'world', result: 'skipped' })
    const r = await send('127.0.9.98')
    assert.equal(r.end?.code, 250, 'a list that lists everything must not refuse anyone')
    assert.equal(t.dns.count('98.9.0.127.world.dnsbl.test'), 0)
    assert.equal(t.dns.count('98.9.0.127.silent.dnsbl.test'), 0)
    assert.equal((await metricValue(dnsListLookups, { list: 'world', result: 'skipped' })) - skipped, 1)
  })

  it('fails open within the deadline when a list stops answering, and counts the timeout', async () => {
    const timeouts = await metricValue(dnsListLookups, { list: 'slow', result: 'timeout' })
    const c = await SmtpDialog.open({ port: t.relay.port('submission'), localAddress: '127.0.9.20' })
    await c.greeting
    await c.cmd('EHLO pc.customer.test')
    const started = performance.now()
    const mail = await c.cmd('MAIL FROM:<alice@customer.test>')
    const ms = performance.now() - started
    assert.equal((await c.cmd('RCPT TO:<bob@remote.test>')).code, 250)
    assert.equal((await c.cmd('DATA')).code, 354)
    c.write(`${MSG}\r\n.\r\n`)
    const end = await c.read()
    await c.quit()
    assert.equal(mail.code, 250)
    assert.ok(ms >= 190 && ms < 800, `MAIL FROM took ${ms} ms with a 200 ms deadline`)
    assert.equal(end.code, 250)
    assert.equal((await metricValue(dnsListLookups, { list: 'slow', result: 'timeout' })) - timeouts, 1)
    assert.ok(t.relay.logs.transactions().some((l) => (l.tx.flags as string[] | undefined)?.includes('DNSBL_SLOW_ERROR')))
  })

  it('with on_timeout: tempfail, a list that does not answer defers with 451 4.4.3, never a 5xx', async () => {
    const c = await SmtpDialog.open({ port: t.relay.port('mx'), localAddress: '127.0.9.20' })
    await c.greeting
    await c.cmd('EHLO mx.sender.test')
    const r = await c.cmd('MAIL FROM:<someone@sender.test>')
    await c.quit()
    assert.equal(
      r.line,
      '451 4.4.3 Temporary DNS failure while checking 127.0.9.20 in DNS lists; please try again later; see https://postmaster.example.net/why/dns-failure',
    )
  })

  it('an allow-list hit accepts the client even when a block list lists it', async () => {
    const r = await send('127.0.9.30')
    assert.equal(r.end?.code, 250)
    const check = (lastTx().tx.checks as { check: string; outcome: string; detail: string }[])[0]
    assert.equal(check?.outcome, 'accept')
    assert.match(check?.detail ?? '', /wl\(127\.0\.10\.3 HI\); zen\(127\.0\.0\.2 SBL\)/)
  })

  it('a low-trust allow-list hit lowers the score instead', async () => {
    const r = await send('127.0.9.31')
    assert.equal(r.end?.code, 250)
    assert.equal(lastTx().tx.score, -2)
    assert.deepEqual(lastTx().tx.flags, ['DNSWL_WL_LOW'])
  })

  it('looks the sender domain and the HELO name up in a domain list', async () => {
    const bySender = await send('127.0.9.99', { from: 'boss@spammer.test' })
    assert.match(
      bySender.mail.line,
      /^554 5\.7\.1 Service unavailable; Sender domain spammer\.test blocked using dbl\.dnsbl\.test \(DBL\); look it up at https:\/\/lists\.test\/dbl\?q=spammer\.test;/,
    )
    const byHelo = await send('127.0.9.99', { helo: 'bad-helo.test' })
    assert.match(byHelo.mail.line, /^554 5\.7\.1 Service unavailable; HELO name bad-helo\.test blocked using dbl\.dnsbl\.test \(DBL\)/)
    assert.equal(t.dns.count('customer.test.dbl.dnsbl.test'), 1)
  })
})

describe('DNS list references in the policy', () => {
  const check = async (patch: (p: Record<string, unknown>) => void) => {
    const tree = testPolicy([2500], (p) => {
      p.dns_lists = { lists: TEST_LISTS }
      patch(p)
    })
    try {
      await parsePolicy('/etc/smarthost-guard/relay.yaml', stringify(tree))
      return []
    } catch (err) {
      return configIssues(err) ?? [String(err)]
    }
  }
  const outbound = (p: Record<string, unknown>) => (p.instances as Record<string, Record<string, unknown>>).outbound!

  it('reports a list that is not defined, at its key', async () => {
    const issues = await check((p) => (outbound(p).checks = [{ check: 'mail.dnsbl', lists: [{ list: 'zen2' }] }]))
    assert.equal(issues.length, 1)
    assert.match(issues[0] ?? '', /^\/etc\/smarthost-guard\/relay\.yaml:\d+:\d+ instances\.outbound\.checks\[0\]\.lists\[0\]\.list: no list zen2 in dns_lists\.lists \(zen, world/)
  })

  it('refuses an accept for a block list, a refusal for an allow list and a query that does not fit the list', async () => {
    const issues = await check(
      (p) =>
        (outbound(p).checks = [
          {
            check: 'mail.dnsbl',
            lists: [
              { list: 'zen', actions: { default: 'accept' } },
              { list: 'wl', sub_lists: { HI: { default: 'reject' } } },
              { list: 'dbl', query: 'client' },
              { list: 'zen', sub_lists: { XLB: { default: 'ignore' } } },
            ],
          },
        ]),
    )
    assert.deepEqual(
      issues.map((i) => i.replace(/^\S+ /, '')),
      [
        'instances.outbound.checks[0].lists[0].actions.default: zen is a block list: a hit cannot accept',
        'instances.outbound.checks[0].lists[1].sub_lists.HI.default: wl is an allow list: a hit cannot reject',
        'instances.outbound.checks[0].lists[2].query: dbl is a domain list: query helo or sender',
        'instances.outbound.checks[0].lists[3].sub_lists.XLB: zen has no sub-list XLB (its codes name: SBL, CSS, XBL, DROP, PBL) \u2014 did you mean "XBL"?',
      ],
    )
  })

  it('refuses outbound SPF without egress addresses to evaluate', async () => {
    const issues = await check((p) => (outbound(p).checks = [{ check: 'mail.spf_outbound' }]))
    assert.deepEqual(
      issues.map((i) => i.replace(/^\S+ /, '')),
      ['instances.outbound.checks[0].check: mail.spf_outbound needs our egress addresses: set egress.addresses (or the check\u2019s egress)'],
    )
  })

  it('refuses an egress watch of a list that is not an ip block list', async () => {
    const issues = await check((p) => (p.egress = { addresses: ['192.0.2.25'], watch: { lists: ['wl', 'nope'] } }))
    assert.deepEqual(
      issues.map((i) => i.replace(/^\S+ /, '')),
      ['egress.watch.lists[0]: wl is not an ip block list', 'egress.watch.lists[1]: no list nope in dns_lists.lists (zen, world, silent, slow, dead, wl, dbl)'],
    )
  })
})

describe('DNS list health checks at start and every check_every', () => {
  const t = relayWithDns(['dnsbl'], (p) => {
    p.dns_lists = { check_every: '100ms', lists: { zen: TEST_LISTS.zen } }
    const out = p.instances.outbound
    out.relay.networks = ['127.0.0.0/8']
    out.checks = [{ check: 'mail.dnsbl', lists: [{ list: 'zen' }] }]
  })
  const send = () => sendOne(t.relay.port('submission'), 'alice@customer.test', ['bob@remote.test'], MSG, { localAddress: '127.0.9.2' })
  const events = (event: string) => t.relay.logs.lines.filter((l) => l.event === event && l.list === 'zen').length
  const TEST_POINT = '2.0.0.127.zen.dnsbl.test'

  it('skips a list whose test point stops being listed after start, and uses it again once it is back', async () => {
    assert.match((await send()).mail.line, /^554 5\.7\.1 Service unavailable; Client host \[127\.0\.9\.2\] blocked using zen\.dnsbl\.test/)
    // The test point's answer has a 300 s TTL: only a check that skips the cache sees it go.
    t.dns.define(TEST_POINT, null)
    await waitFor(() => events('dnslist_unhealthy') > 0, 5000, 'zen found unhealthy')
    assert.equal(await metricValue(dnsListHealthy, { list: 'zen' }), 0)
    const skipped = await metricValue(dnsListLookups, { list: 'zen', result: 'skipped' })
    assert.equal((await send()).end?.code, 250, 'a broken list refuses nobody')
    assert.equal((await metricValue(dnsListLookups, { list: 'zen', result: 'skipped' })) - skipped, 1)

    // Its NXDOMAIN is cached for 300 s too: only a check that skips the cache sees it come back.
    t.dns.define(TEST_POINT, { A: ['127.0.0.2'] })
    await waitFor(() => events('dnslist_healthy') > 0, 5000, 'zen healthy again')
    assert.equal(await metricValue(dnsListHealthy, { list: 'zen' }), 1)
    assert.match((await send()).mail.line, /^554 5\.7\.1 Service unavailable; Client host \[127\.0\.9\.2\] blocked using zen\.dnsbl\.test/)
  })
})

describe('DNS list whose resolver does not answer yet at start', () => {
  const TEST_POINT = '2.0.0.127.zen.dnsbl.test'
  const NEGATIVE = '1.0.0.127.zen.dnsbl.test'
  let dns: TestDnsServer
  let sink: Sink
  let relay: TestRelay
  before(async () => {
    dns = await startDnsServer({ zones: ['dnsbl'] })
    // The resolver is restarting with the host: the list's test points get no answer.
    dns.define(TEST_POINT, 'TIMEOUT')
    dns.define(NEGATIVE, 'TIMEOUT')
    sink = await startSink()
    relay = await startRelay(
      testPolicy([sink.port], (p) => {
        // check_every at its default (5m): only an early re-check brings the list back within the test.
        p.dns = { servers: [dns.server], timeout: '300ms', tries: 1 }
        p.dns_lists = { lists: { zen: TEST_LISTS.zen } }
        p.instances.outbound.relay.networks = ['127.0.0.0/8']
        p.instances.outbound.checks = [{ check: 'mail.dnsbl', lists: [{ list: 'zen' }] }]
      }),
      { instances: ['outbound'] },
    )
  })
  after(async () => {
    await relay.close()
    await sink.close()
    await dns.close()
  })
  const send = () => sendOne(relay.port('submission'), 'alice@customer.test', ['bob@remote.test'], MSG, { localAddress: '127.0.9.2' })
  const readyz = async () => (await (await fetch(relay.adminUrl('/readyz'))).json()) as { status: string; degraded?: string[] }

  it('runs without the list meanwhile and says so in /readyz and smarthost_dnslist_healthy, then uses it within seconds of the resolver answering', async () => {
    assert.equal(await metricValue(dnsListHealthy, { list: 'zen' }), 0)
    const ready = await readyz()
    assert.equal(ready.status, 'ready')
    assert.match(ready.degraded?.join('\n') ?? '', /^dns list zen \(zen\.dnsbl\.test\) is off: no usable answer for its test points \(.*\); checked again within \d+ s$/m)
    assert.equal((await send()).end?.code, 250, 'a list that cannot be checked refuses nobody')

    dns.define(TEST_POINT, { A: ['127.0.0.2'] })
    dns.define(NEGATIVE, null)
    const started = Date.now()
    await waitFor(() => relay.logs.lines.some((l) => l.event === 'dnslist_healthy' && l.list === 'zen'), 15_000, 'zen checked again and healthy')
    assert.ok(Date.now() - started < 15_000)
    assert.equal(await metricValue(dnsListHealthy, { list: 'zen' }), 1)
    assert.equal((await readyz()).degraded, undefined)
    assert.match((await send()).mail.line, /^554 5\.7\.1 Service unavailable; Client host \[127\.0\.9\.2\] blocked using zen\.dnsbl\.test/)
  })
})
