import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { after, before, describe, it } from 'node:test'
import { stringify } from 'yaml'
import { dnsListHealthChecks, dnsListHealthy } from '../../src/metrics/dns-check-metrics.js'
import { dnsCacheEntries } from '../../src/metrics/dns-metrics.js'
import { TEST_LISTS } from '../helpers/dns-relay.js'
import { startDnsServer } from '../helpers/dns-server.js'
import type { TestDnsServer } from '../helpers/dns-server.js'
import { metricValue } from '../helpers/metrics.js'
import { startRelay, testPolicy } from '../helpers/relay.js'
import type { PolicyTree, TestRelay } from '../helpers/relay.js'
import { startSink } from '../helpers/sink.js'
import type { Sink } from '../helpers/sink.js'
import { message, sendOne } from '../helpers/smtp-client.js'

describe('DNS side of a reload', () => {
  let dns: TestDnsServer
  let sink: Sink
  let relay: TestRelay
  const tree = (lists: string[], timeout = '300ms'): PolicyTree =>
    testPolicy([sink.port], (p) => {
      p.dns = { servers: [dns.server], timeout, tries: 1 }
      p.dns_lists = { lists: Object.fromEntries(lists.map((l) => [l, TEST_LISTS[l as keyof typeof TEST_LISTS]])) }
      p.instances.outbound.relay.networks = ['127.0.0.0/8']
      p.instances.outbound.checks = [{ check: 'mail.dnsbl', lists: lists.map((list) => ({ list })) }]
    })
  const reload = async (t: PolicyTree) => {
    await writeFile(relay.file, stringify(t))
    return relay.service.reload()
  }
  const send = () =>
    sendOne(relay.port('submission'), 'alice@customer.test', ['bob@remote.test'], message('reload'), { localAddress: '127.0.9.99' })

  before(async () => {
    dns = await startDnsServer({ zones: ['dnsbl'] })
    sink = await startSink()
    relay = await startRelay(tree(['zen']))
  })
  after(async () => {
    await relay.close()
    await sink.close()
    await dns.close()
  })

  it('keeps the resolver\u2019s cache and the lists\u2019 health, and checks a new list before it is used', async () => {
    assert.equal((await send()).end?.code, 250)
    assert.equal(dns.count('99.9.0.127.zen.dnsbl.test'), 1)
    const zenChecks = await metricValue(dnsListHealthChecks, { list: 'zen' })
    assert.deepEqual(await reload(tree(['zen', 'world'])), { ok: true })
    // The new list was found to list everything while reloading, before any message could use it.
    assert.equal(await metricValue(dnsListHealthy, { list: 'world' }), 0)
    assert.equal(await metricValue(dnsListHealthChecks, { list: 'zen' }), zenChecks)
    assert.equal((await send()).end?.code, 250)
    assert.equal(dns.count('99.9.0.127.zen.dnsbl.test'), 1, 'answered from the cache that survived the reload')
    assert.equal(dns.count('99.9.0.127.world.dnsbl.test'), 0)
  })

  it('starts with an empty cache when the dns section changed', async () => {
    const entries = await metricValue(dnsCacheEntries)
    assert.ok(entries >= 4, `${entries} cached answers: test points, the client’s PTR and its zen lookup`)
    assert.deepEqual(await reload(tree(['zen'], '400ms')), { ok: true })
    assert.ok((await metricValue(dnsCacheEntries)) < entries, 'the gauge reports the new resolver’s cache')
    assert.equal((await send()).end?.code, 250)
    assert.equal(dns.count('99.9.0.127.zen.dnsbl.test'), 2)
  })
})
