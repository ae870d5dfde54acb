import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { egressChecks, egressListed } from '../../src/metrics/dns-check-metrics.js'
import { relayWithDns, TEST_LISTS } from '../helpers/dns-relay.js'
import { metricValue } from '../helpers/metrics.js'
import { waitFor } from '../helpers/relay.js'

describe('egress watch: our own addresses in the block lists', () => {
  const t = relayWithDns(['dnsbl'], (p) => {
    p.dns_lists = { lists: { zen: TEST_LISTS.zen, world: TEST_LISTS.world } }
    p.egress = { addresses: ['127.0.0.25', '127.0.0.26', '127.0.0.27'], watch: { every: '100ms' } }
  })
  const events = (event: string, egress: string) => t.relay.logs.lines.filter((l) => l.event === event && l.egress === egress)

  it('reports a listed egress address at start: a metric and an error event with the list\u2019s lookup URL', async () => {
    await waitFor(() => events('egress_listed', '127.0.0.25').length > 0, 5000, 'the egress_listed event')
    const [event] = events('egress_listed', '127.0.0.25')
    assert.equal(event?.level, 'error')
    assert.equal(event?.list, 'zen')
    assert.deepEqual(event?.sub_lists, ['SBL'])
    assert.equal(event?.url, 'https://lists.test/zen?q=127.0.0.25')
    assert.match(String(event?.msg), /^egress address 127\.0\.0\.25 is listed in zen\.dnsbl\.test: SBL \(127\.0\.0\.2\)/)
    assert.equal(await metricValue(egressListed, { egress: '127.0.0.25', list: 'zen' }), 1)
    assert.equal(await metricValue(egressListed, { egress: '127.0.0.26', list: 'zen' }), 0)
    assert.equal(events('egress_listed', '127.0.0.26').length, 0)
    const scraped = await (await fetch(t.relay.adminUrl('/metrics'))).text()
    assert.match(scraped, /^smarthost_egress_listed\{egress="127\.0\.0\.25",list="zen"\} 1$/m)
  })

  it('skips a list that failed its health check, as it does for customers', async () => {
    await waitFor(() => t.dns.count('25.0.0.127.zen.dnsbl.test') > 0)
    assert.ok((await metricValue(egressChecks, { list: 'world', result: 'skipped' })) > 0)
    assert.equal(t.dns.count('25.0.0.127.world.dnsbl.test'), 0)
  })

  it('reports a listing once, and reports the delisting when it is gone', async () => {
    await waitFor(() => t.dns.count('27.0.0.127.zen.dnsbl.test') >= 3, 5000, 'three rounds of the watch')
    assert.equal(events('egress_listed', '127.0.0.27').length, 1)
    t.dns.define('27.0.0.127.zen.dnsbl.test', null)
    await waitFor(() => events('egress_delisted', '127.0.0.27').length > 0, 5000, 'the egress_delisted event')
    assert.equal(await metricValue(egressListed, { egress: '127.0.0.27', list: 'zen' }), 0)
  })
})
