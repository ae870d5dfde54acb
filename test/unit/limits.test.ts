import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { pino } from 'pino'
import { eventually } from '../helpers/eventually.js'
import { MemoryBackend } from '../../src/limits/backend.js'
import { canonicalAddress, subnetOf } from '../../src/limits/dimensions.js'
import { Limit } from '../../src/limits/limit.js'
import { PenaltyBox } from '../../src/limits/penalty-box.js'
import { classRates, forClass, rateSpec } from '../../src/limits/rate-spec.js'
import { penaltyBoxSchema } from '../../src/limits/schema.js'

const scope = { instance: 'outbound', check: 'mail.rate', dimension: 'address' }

describe('rate specs', () => {
  it('reads "N/window", objects with a burst, and unlimited', () => {
    assert.deepEqual(rateSpec().parse('10/1m'), { points: 10, windowMs: 60_000 })
    assert.deepEqual(rateSpec().parse({ points: 5, window: '10s', burst: { points: 20, window: '1h' } }), {
      points: 5,
      windowMs: 10_000,
      burst: { points: 20, windowMs: 3_600_000 },
    })
    assert.equal(rateSpec().parse('unlimited'), null)
  })

  it('refuses windows that are not whole seconds, and nonsense', () => {
    for (const bad of ['10/500ms', '10/1.5s', '0/1m', 'ten per minute', '10/']) {
      const r = rateSpec().safeParse(bad)
      assert.equal(r.success, false, bad)
    }
  })

  it('keeps a class set to unlimited unlimited next to a default, and gives other classes the default', () => {
    const rates = classRates().parse({ default: '120/1m', 'trusted-server': 'unlimited' })
    assert.equal(forClass(rates, 'trusted-server'), null)
    assert.deepEqual(forClass(rates, 'unknown'), { points: 120, windowMs: 60_000 })
    assert.deepEqual(forClass(rates, 'constructor'), { points: 120, windowMs: 60_000 })
    assert.equal(forClass(classRates().parse({ 'trusted-server': '1/1s' }), 'unknown'), null)
  })

  it('holds penalty box rule windows to whole seconds, as limit windows', () => {
    const rule = { name: 'r', limits: ['mail.rate'], hits: 2, duration: '1h' }
    assert.equal(penaltyBoxSchema.parse({ rules: [{ ...rule, window: '10m' }] }).rules[0]?.window, 600_000)
    for (const window of ['1500ms', '0s']) assert.equal(penaltyBoxSchema.safeParse({ rules: [{ ...rule, window }] }).success, false, window)
  })

  it('refuses a penalty box duration beyond a year in the policy, as the admin API does', () => {
    const rule = { name: 'spam', limits: ['mail.rate'], hits: 2, window: '1m', duration: '400d' }
    assert.deepEqual(
      penaltyBoxSchema.safeParse({ default_duration: '100000000d', rules: [rule] }).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
      ['default_duration: must be more than 0 and at most 365d', 'rules.0.duration: must be more than 0 and at most 365d'],
    )
    assert.equal(penaltyBoxSchema.parse({ default_duration: '365d' }).default_duration, 365 * 86_400_000)
  })

  it('refuses class names with upper case or spaces as per-class map keys', () => {
    assert.equal(classRates().safeParse({ 'Trusted Server': '1/1s' }).success, false)
  })
})

describe('dimensions', () => {
  it('maps addresses to their /24 or /64 subnet', () => {
    assert.equal(subnetOf('192.0.2.77'), '192.0.2.0/24')
    assert.equal(subnetOf('::ffff:192.0.2.77'), '192.0.2.0/24')
    assert.equal(subnetOf('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64')
    assert.equal(subnetOf('2001:db8::1'), '2001:db8::/64')
    assert.equal(subnetOf('not an address'), null)
  })

  it('writes IPv6 addresses in RFC 5952 form', () => {
    assert.equal(canonicalAddress('2001:0DB8:0:0:0:0:0:0042'), '2001:db8::42')
    assert.equal(canonicalAddress('2001:db8:0:1:0:0:0:1'), '2001:db8:0:1::1')
    assert.equal(canonicalAddress('::ffff:198.51.100.1'), '198.51.100.1')
  })
})

describe('memory limits', () => {
  it('counts per key and reports when the window frees up', async () => {
    const limit = new Limit(new MemoryBackend(1000), scope, { points: 2, windowMs: 60_000 })
    assert.equal((await limit.consume('192.0.2.1')).over, false)
    assert.equal((await limit.consume('192.0.2.1')).over, false)
    const over = await limit.consume('192.0.2.1')
    assert.equal(over.over, true)
    assert.ok(over.over && over.retryMs > 59_000 && over.retryMs <= 60_000)
    assert.equal((await limit.consume('192.0.2.2')).over, false)
    assert.equal((await limit.peek('192.0.2.1')).over, true)
  })

  it('allows a burst beyond the rate until the burst allowance is used up too', async () => {
    const limit = new Limit(new MemoryBackend(1000), scope, { points: 2, windowMs: 60_000, burst: { points: 3, windowMs: 3_600_000 } })
    const results = []
    for (let i = 0; i < 6; i++) results.push((await limit.consume('192.0.2.9')).over)
    assert.deepEqual(results, [false, false, false, false, false, true])
  })

  it('holds at most max_entries counters, however many clients there are', async () => {
    const backend = new MemoryBackend(1000)
    const limit = new Limit(backend, scope, { points: 5, windowMs: 60_000 })
    for (let i = 0; i < 20_000; i++) await limit.consume(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`)
    assert.equal(backend.cache.size, 1000)
    // The most recent clients are still counted.
    assert.equal((await limit.peek('10.0.78.31')).consumed, 1)
  })

  it('gives back a concurrency slot, never counting below zero', async () => {
    const limit = new Limit(new MemoryBackend(1000), { ...scope, check: 'connect.concurrency' }, { points: 1, windowMs: 600_000 })
    assert.equal((await limit.consume('192.0.2.3')).over, false)
    assert.equal((await limit.consume('192.0.2.3')).over, true)
    await limit.release('192.0.2.3')
    await limit.release('192.0.2.3')
    await limit.release('192.0.2.3')
    assert.equal((await limit.consume('192.0.2.3')).over, false)
  })
})

describe('penalty box (memory)', () => {
  const box = () =>
    new PenaltyBox(new MemoryBackend(1000).penaltyStore('outbound', 100), { instance: 'outbound', defaultDurationMs: 3_600_000, log: pino({ level: 'silent' }) })

  it('finds a client by address, by subnet or by user, and forgets it when its time is up', async () => {
    const b = box()
    await b.add({ scope: 'subnet', value: '192.0.2.200', who: 'noc', why: 'botnet' })
    await b.add({ scope: 'user', value: 'alice', who: 'noc', why: 'leaked password', durationMs: 1 })
    assert.equal((await b.find({ address: '192.0.2.7' }))?.value, '192.0.2.0/24')
    assert.equal(await b.find({ address: '198.51.100.7' }), null)
    await eventually(() => b.find({ user: 'alice' }), (e) => e === null, { everyMs: 1, ms: 1000, what: 'the 1 ms entry to end' })
    assert.deepEqual((await b.list()).map((e) => e.value), ['192.0.2.0/24'])
  })

  it('refuses entries it could never match', async () => {
    const b = box()
    await assert.rejects(b.add({ scope: 'address', value: 'example.com', who: 'noc', why: 'x' }), /not an IP address/)
    await assert.rejects(b.add({ scope: 'subnet', value: '192.0.0.0/16', who: 'noc', why: 'x' }), /not a \/24/)
    await assert.rejects(b.add({ scope: 'address', value: '192.0.2.1', who: 'noc', why: ' ' }), /give a reason/)
  })
})
