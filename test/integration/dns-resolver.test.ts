import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, beforeEach, describe, it } from 'node:test'
import { createResolver, reverseName } from '../../src/dns/resolver.js'
import { expandIPv6 } from '../../src/relay/ip.js'
import type { DnsSettings } from '../../src/dns/resolver.js'
import { systemServers } from '../../src/dns/servers.js'
import {
  dnsCacheLookups,
  dnsQueries,
  dnsQueryDuration,
  dnsTcpFallbacks,
  dnsTimeouts,
} from '../../src/metrics/dns-metrics.js'
import { takeStrayQueries } from '../helpers/deny-dns.js'
import { startDnsServer } from '../helpers/dns-server.js'
import type { TestDnsServer } from '../helpers/dns-server.js'
import { metricValue } from '../helpers/metrics.js'

const CACHE = { maxEntries: 1000, maxTtlMs: 3_600_000, negativeTtlMs: 900_000 }

describe('resolver against a DNS server on loopback', () => {
  let dns: TestDnsServer
  let clock = 0
  const now = () => clock
  const resolver = (extra: Partial<DnsSettings> = {}) =>
    createResolver({ servers: [dns.server], timeoutMs: 150, tries: 2, cache: CACHE, ...extra }, { now })

  before(async () => {
    dns = await startDnsServer({ zones: ['resolver'] })
  })
  after(() => dns.close())
  beforeEach(() => {
    dns.reset()
    clock = 1_000_000
  })

  it('answers in the shapes of dns.promises.resolve (the contract mailauth relies on)', async () => {
    const r = resolver()
    assert.deepEqual(await r.resolve('www.example.test', 'A'), ['192.0.2.10', '192.0.2.11'])
    assert.deepEqual(await r.resolve('www.example.test', 'AAAA'), ['2001:db8::10'])
    assert.deepEqual(await r.resolve('www.example.test', 'TXT'), [['v=spf1 ip4:192.0.2.0/24 -all'], ['two ', 'chunks']])
    assert.deepEqual(await r.resolve('WWW.Example.TEST.', 'mx'), [
      { exchange: 'mx1.example.test', priority: 10 },
      { exchange: 'mx2.example.test', priority: 20 },
    ])
    assert.deepEqual(await r.resolve('alias.example.test', 'A'), ['192.0.2.10', '192.0.2.11'])
    assert.deepEqual(await r.reverse('192.0.2.10'), ['www.example.test'])
    assert.deepEqual(await r.reverse('2001:db8::10'), ['www.example.test'])
    assert.deepEqual(await r.reverse('192.0.2.99'), [])
  })

  it('tells NXDOMAIN (ENOTFOUND) from NODATA (ENODATA), SERVFAIL and REFUSED', async () => {
    const r = resolver()
    await assert.rejects(r.resolve('nowhere.example.test', 'A'), { code: 'ENOTFOUND' })
    await assert.rejects(r.resolve('short.example.test', 'TXT'), { code: 'ENODATA' })
    await assert.rejects(r.resolve('broken.example.test', 'A'), { code: 'ESERVFAIL' })
    await assert.rejects(r.resolve('refusing.example.test', 'A'), { code: 'EREFUSED' })
    // SERVFAIL is asked again in the next round; the failure is then kept for failure_ttl only.
    assert.equal(dns.count('broken.example.test'), 2)
    await assert.rejects(r.resolve('broken.example.test', 'A'), { code: 'ESERVFAIL' })
    assert.equal(dns.count('broken.example.test'), 2)
    clock += 1_100
    await assert.rejects(r.resolve('broken.example.test', 'A'), { code: 'ESERVFAIL' })
    assert.equal(dns.count('broken.example.test'), 4)
  })

  it('answers a repeated question from the cache: no second query reaches the server', async () => {
    const r = resolver()
    const hits = await metricValue(dnsCacheLookups, { result: 'hit' })
    await r.resolve('www.example.test', 'A')
    await r.resolve('www.example.test', 'A')
    await r.resolve('www.example.test.', 'A')
    assert.equal(dns.count('www.example.test', 'A'), 1)
    assert.equal((await metricValue(dnsCacheLookups, { result: 'hit' })) - hits, 2)
  })

  it('keeps an answer for its TTL and asks again once it expired', async () => {
    const r = resolver()
    await r.resolve('short.example.test', 'A')
    clock += 4_900
    await r.resolve('short.example.test', 'A')
    assert.equal(dns.count('short.example.test', 'A'), 1)
    clock += 200
    await r.resolve('short.example.test', 'A')
    assert.equal(dns.count('short.example.test', 'A'), 2)
  })

  it('caps long TTLs at cache.max_ttl', async () => {
    const r = resolver({ cache: { ...CACHE, maxTtlMs: 60_000 } })
    await r.resolve('long.example.test', 'A')
    clock += 59_000
    await r.resolve('long.example.test', 'A')
    assert.equal(dns.count('long.example.test'), 1)
    clock += 2_000
    await r.resolve('long.example.test', 'A')
    assert.equal(dns.count('long.example.test'), 2)
  })

  it('caches NXDOMAIN and NODATA for the SOA minimum, capped at cache.negative_ttl', async () => {
    const r = resolver()
    for (let i = 0; i < 3; i++) await assert.rejects(r.resolve('nowhere.example.test', 'A'), { code: 'ENOTFOUND' })
    for (let i = 0; i < 3; i++) await assert.rejects(r.resolve('short.example.test', 'MX'), { code: 'ENODATA' })
    assert.equal(dns.count('nowhere.example.test'), 1)
    assert.equal(dns.count('short.example.test', 'MX'), 1)
    clock += 61_000
    await assert.rejects(r.resolve('nowhere.example.test', 'A'), { code: 'ENOTFOUND' })
    assert.equal(dns.count('nowhere.example.test'), 2)

    const capped = resolver({ cache: { ...CACHE, negativeTtlMs: 10_000 } })
    dns.reset()
    await assert.rejects(capped.resolve('nowhere.example.test', 'A'))
    clock += 11_000
    await assert.rejects(capped.resolve('nowhere.example.test', 'A'))
    assert.equal(dns.count('nowhere.example.test'), 2)
  })

  it('is bounded: beyond cache.max_entries the least recently used answer is dropped', async () => {
    const r = resolver({ cache: { ...CACHE, maxEntries: 2 } })
    await r.resolve('www.example.test', 'A')
    await r.resolve('short.example.test', 'A')
    await r.resolve('www.example.test', 'A') // now the most recently used
    await r.resolve('long.example.test', 'A') // drops short
    await r.resolve('www.example.test', 'A')
    await r.resolve('short.example.test', 'A')
    assert.equal(dns.count('www.example.test'), 1)
    assert.equal(dns.count('short.example.test'), 2)
  })

  it('with cache.max_entries 0 keeps nothing, but still shares a question in flight', async () => {
    const r = resolver({ cache: { ...CACHE, maxEntries: 0 } })
    await r.resolve('www.example.test', 'A')
    await r.resolve('www.example.test', 'A')
    await assert.rejects(r.resolve('nowhere.example.test', 'A'), { code: 'ENOTFOUND' })
    await assert.rejects(r.resolve('nowhere.example.test', 'A'), { code: 'ENOTFOUND' })
    assert.equal(dns.count('www.example.test'), 2)
    assert.equal(dns.count('nowhere.example.test'), 2)
    await Promise.all([r.resolve('slow.example.test', 'A'), r.resolve('slow.example.test', 'A')])
    assert.equal(dns.count('slow.example.test'), 1)
  })

  it('sends one query for concurrent identical questions', async () => {
    const r = resolver()
    const joined = await metricValue(dnsCacheLookups, { result: 'joined' })
    const answers = await Promise.all(Array.from({ length: 20 }, () => r.resolve('slow.example.test', 'A')))
    assert.equal(dns.count('slow.example.test'), 1)
    assert.ok(answers.every((a) => JSON.stringify(a) === '["192.0.2.30"]'))
    assert.equal((await metricValue(dnsCacheLookups, { result: 'joined' })) - joined, 19)
    // Different questions are not shared.
    await Promise.all([r.resolve('www.example.test', 'A'), r.resolve('www.example.test', 'AAAA')])
    assert.equal(dns.count('www.example.test'), 2)
  })

  it('gives up after dns.tries timeouts of dns.timeout each, counts them, and keeps the failure for a second', async () => {
    const r = resolver()
    const timeouts = await metricValue(dnsTimeouts, { server: dns.server })
    const failed = await metricValue(dnsQueries, { rrtype: 'A', result: 'timeout' })
    const started = performance.now()
    await assert.rejects(r.resolve('silent.example.test', 'A'), { code: 'ETIMEOUT' })
    const ms = performance.now() - started
    assert.ok(ms >= 290 && ms < 1000, `took ${ms} ms`)
    assert.equal(dns.count('silent.example.test'), 2)
    assert.equal((await metricValue(dnsTimeouts, { server: dns.server })) - timeouts, 2)
    assert.equal((await metricValue(dnsQueries, { rrtype: 'A', result: 'timeout' })) - failed, 1)
    const quick = performance.now()
    await assert.rejects(r.resolve('silent.example.test', 'A'), { code: 'ETIMEOUT' })
    assert.ok(performance.now() - quick < 50, 'a failure a moment ago is answered at once')
    assert.equal(dns.count('silent.example.test'), 2)
    clock += 1_100
    await assert.rejects(r.resolve('silent.example.test', 'A'), { code: 'ETIMEOUT' })
    assert.equal(dns.count('silent.example.test'), 4)
    // Other types of the same name are unaffected.
    assert.deepEqual(await r.resolve('only-a-times-out.example.test', 'TXT'), [['fine']])
  })

  it('moves on to the next server when one does not answer', async () => {
    const r = resolver({ servers: ['127.0.0.1:1', dns.server], tries: 1 })
    assert.deepEqual(await r.resolve('www.example.test', 'A'), ['192.0.2.10', '192.0.2.11'])
    assert.deepEqual(r.servers(), ['127.0.0.1:1', dns.server])
  })

  it('learns at once that a server port is closed, without waiting for the timeout', async () => {
    const r = resolver({ servers: ['127.0.0.1:1'], timeoutMs: 2000, tries: 2 })
    const started = performance.now()
    await assert.rejects(r.resolve('www.example.test', 'A'), { code: 'ECONNREFUSED' })
    assert.ok(performance.now() - started < 1000)
  })

  it('tells apart hundreds of concurrent answers sharing its sockets', async () => {
    // A timeout long enough that a loaded machine's slow answers are not asked again: the point is demultiplexing.
    const r = resolver({ timeoutMs: 3000 })
    const names = Array.from({ length: 300 }, (_, i) => `n${i}.many.example.test`)
    names.forEach((n, i) => dns.define(n, { A: [`10.0.${i >> 8}.${i & 255}`] }))
    const answers = await Promise.all(names.map((n) => r.resolve(n, 'A')))
    names.forEach((_, i) => assert.deepEqual(answers[i], [`10.0.${i >> 8}.${i & 255}`]))
    assert.equal(dns.queries.length, 300)
  })

  it('asks again over TCP when the UDP answer is truncated', async () => {
    const r = resolver()
    const fallbacks = await metricValue(dnsTcpFallbacks)
    const txt = (await r.resolve('big.example.test', 'TXT')) as string[][]
    assert.equal(txt.length, 12)
    assert.match(txt[0]?.join('') ?? '', /^v=spf1 .* -all 01$/)
    assert.deepEqual(
      dns.queries.filter((q) => q.name === 'big.example.test').map((q) => q.transport),
      ['udp', 'tcp'],
    )
    assert.equal((await metricValue(dnsTcpFallbacks)) - fallbacks, 1)
  })

  it('records the latency of every lookup that went to the servers', async () => {
    const r = resolver()
    const before = await metricValue(dnsQueryDuration, { rrtype: 'MX' }, '_count')
    await r.resolve('www.example.test', 'MX')
    await r.resolve('www.example.test', 'MX')
    assert.equal((await metricValue(dnsQueryDuration, { rrtype: 'MX' }, '_count')) - before, 1)
  })

  it('a copy of a cached answer can be changed without changing the cache', async () => {
    const r = resolver()
    const first = (await r.resolve('www.example.test', 'MX')) as { priority: number }[]
    first.reverse()
    assert.equal(((await r.resolve('www.example.test', 'MX')) as { priority: number }[])[0]?.priority, 10)
  })
})

describe('resolver servers and names', () => {
  it('uses the nameserver lines of resolv.conf when dns.servers is empty', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'shg-resolv-'))
    try {
      const file = join(dir, 'resolv.conf')
      await writeFile(file, '# comment\nsearch isp.test\nnameserver 192.0.2.53\nnameserver 2001:db8::53\nnameserver fe80::1%eth0\n')
      assert.deepEqual(systemServers(file), [
        { address: '192.0.2.53', port: 53 },
        { address: '2001:db8::53', port: 53 },
        { address: 'fe80::1', port: 53 },
      ])
      await writeFile(file, 'search isp.test\n')
      assert.deepEqual(systemServers(file), [{ address: '127.0.0.1', port: 53 }])
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('builds in-addr.arpa and ip6.arpa names', () => {
    assert.equal(reverseName('192.0.2.7'), '7.2.0.192.in-addr.arpa')
    assert.equal(reverseName('::ffff:192.0.2.7'), '7.2.0.192.in-addr.arpa')
    assert.equal(reverseName('2001:db8::1'), '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa')
    assert.equal(expandIPv6('::1'), '00000000000000000000000000000001')
    assert.equal(expandIPv6('2001:db8:0:0:1::'), '20010db8000000000001000000000000')
  })

  it('a query to a resolver that is not on loopback fails loudly in tests', async () => {
    const r = createResolver({ servers: ['192.0.2.53'], timeoutMs: 100, tries: 1 })
    await assert.rejects(r.resolve('www.example.test', 'A'), /tests use test\/helpers\/dns-server.ts on loopback/)
    assert.equal(takeStrayQueries().length, 1)
  })
})
