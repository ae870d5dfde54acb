import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Counter, Histogram, Registry } from 'prom-client'
import { CHECK_DURATION_BUCKETS, CheckTally } from '../../src/metrics/check-tally.js'

/** A registry with the two check metrics, filled from tallies when read. */
function metrics(tallies: CheckTally[]) {
  const registry = new Registry()
  const flush = (): void => tallies.forEach((t) => t.flush(results, durations))
  const results: Counter<'relay_instance' | 'check' | 'outcome' | 'mode'> = new Counter({
    name: 'check_results_total',
    help: 'h',
    labelNames: ['relay_instance', 'check', 'outcome', 'mode'] as const,
    registers: [registry],
    collect: flush,
  })
  const durations: Histogram<'check'> = new Histogram({
    name: 'check_duration_seconds',
    help: 'h',
    labelNames: ['check'] as const,
    buckets: CHECK_DURATION_BUCKETS,
    registers: [registry],
    collect: flush,
  })
  return registry
}

const line = (text: string, prefix: string) => Number(text.split('\n').find((l) => l.startsWith(prefix))?.split(' ').pop())

describe('check tallies', () => {
  it('show in /metrics as the counter and histogram updates they stand for', async () => {
    const tally = new CheckTally('outbound', 'mail.spf_inbound', 'enforce')
    const registry = metrics([tally])
    tally.record('continue', 0.00005)
    tally.record('continue', 0.002)
    tally.record('reject', 7)
    let text = await registry.metrics()
    assert.equal(line(text, 'check_results_total{relay_instance="outbound",check="mail.spf_inbound",outcome="continue",mode="enforce"}'), 2)
    assert.equal(line(text, 'check_results_total{relay_instance="outbound",check="mail.spf_inbound",outcome="reject",mode="enforce"}'), 1)
    assert.equal(line(text, 'check_duration_seconds_bucket{le="0.0001",check="mail.spf_inbound"}'), 1)
    assert.equal(line(text, 'check_duration_seconds_bucket{le="0.005",check="mail.spf_inbound"}'), 2)
    assert.equal(line(text, 'check_duration_seconds_bucket{le="5",check="mail.spf_inbound"}'), 2)
    assert.equal(line(text, 'check_duration_seconds_bucket{le="+Inf",check="mail.spf_inbound"}'), 3)
    assert.equal(line(text, 'check_duration_seconds_count{check="mail.spf_inbound"}'), 3)
    assert.ok(Math.abs(line(text, 'check_duration_seconds_sum{check="mail.spf_inbound"}') - 7.00205) < 1e-9)

    // Later results add to what was read before, and a read without new results changes nothing.
    tally.record('continue', 0.0001)
    text = await registry.metrics()
    text = await registry.metrics()
    assert.equal(line(text, 'check_results_total{relay_instance="outbound",check="mail.spf_inbound",outcome="continue",mode="enforce"}'), 3)
    assert.equal(line(text, 'check_duration_seconds_bucket{le="0.0001",check="mail.spf_inbound"}'), 2)
    assert.equal(line(text, 'check_duration_seconds_count{check="mail.spf_inbound"}'), 4)
  })

  it('keep one duration series per check across instances and modes', async () => {
    const a = new CheckTally('outbound', 'data.bulk_mailer', 'enforce')
    const b = new CheckTally('inbound', 'data.bulk_mailer', 'warn')
    const registry = metrics([a, b])
    a.record('continue', 0.001)
    b.record('tag', 0.001)
    const text = await registry.metrics()
    assert.equal(line(text, 'check_duration_seconds_count{check="data.bulk_mailer"}'), 2)
    assert.equal(line(text, 'check_results_total{relay_instance="inbound",check="data.bulk_mailer",outcome="tag",mode="warn"}'), 1)
  })
})
