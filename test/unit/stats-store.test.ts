import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { DistinctCounter } from '../../src/stats/hyperloglog.js'
import { MemoryStatsStore } from '../../src/stats/memory-store.js'
import { refusalReason } from '../../src/stats/counters.js'
import { HOUR, MINUTE } from '../../src/stats/windows.js'

const T0 = Date.UTC(2026, 10, 2, 9, 0, 0) // a Monday, 09:00 UTC
const store = (snapshotFile: string | null = null) => new MemoryStatsStore({ maxClients: 1000, maxBaselines: 1000, snapshotFile })

describe('per-client statistics in memory', () => {
  it('sums each sliding window: 1m, 5m, 15m, 1h and 24h', async () => {
    const s = store()
    const now = T0 + 10 * HOUR + 30 * MINUTE + 30_000
    const at = (msAgo: number) => ({ at: now - msAgo, counts: { accepted: 1 } })
    for (const ago of [10_000, 3 * MINUTE, 10 * MINUTE, 50 * MINUTE, 5 * HOUR, 30 * HOUR, 2 * MINUTE + 50_000]) s.observe(['address:192.0.2.7'], at(ago))
    const view = await s.show('address:192.0.2.7', now)
    assert.ok(view)
    assert.deepEqual(
      Object.fromEntries(Object.entries(view.windows).map(([w, c]) => [w, c.accepted])),
      { '1m': 1, '5m': 3, '15m': 4, '1h': 5, '24h': 6 },
    )
  })

  it('keeps refusals by reason, the latest refusals and samples first, and distinct recipient domains', async () => {
    const s = store()
    s.observe(['user:alice'], {
      at: T0,
      counts: { transactions: 1, refused: 1, recipients: 2 },
      refusal: { reason: 'content', check: 'data.content_scan', reply: '554 5.7.1 Message refused' },
      recipientDomains: ['a.example', 'b.example'],
      sample: { at: T0, id: 'Q1', outcome: 'rejected', from: 'alice@shop.example', subject: 'Invoice', recipientDomains: ['a.example', 'b.example'] },
    })
    s.observe(['user:alice'], { at: T0 + 1000, counts: { transactions: 1, accepted: 1, recipients: 1 }, recipientDomains: ['a.example'] })
    const view = await s.show('user:alice', T0 + 2000)
    assert.ok(view)
    assert.deepEqual(view.windows['5m'].refused_by, { content: 1 })
    assert.equal(view.windows['5m'].recipient_domains, 2)
    assert.equal(view.windows['5m'].recipients, 3)
    assert.equal(view.refusals[0]?.check, 'data.content_scan')
    assert.equal(view.samples[0]?.subject, 'Invoice')
  })

  it('lists the top clients of one dimension by the counter asked for', async () => {
    const s = store()
    for (const [ip, n] of [['192.0.2.1', 3], ['192.0.2.2', 9], ['192.0.2.3', 1]] as const) {
      for (let i = 0; i < n; i++) s.observe([`address:${ip}`, 'subnet:192.0.2.0/24'], { at: T0 + i, counts: { accepted: 1 } })
    }
    const { rows: top } = await s.top({ by: 'address', window: '5m', sort: 'messages', limit: 2 }, T0 + 1000)
    assert.deepEqual(top.map((r) => [r.key, r.counts.accepted]), [['address:192.0.2.2', 9], ['address:192.0.2.1', 3]])
    const { rows: subnets } = await s.top({ by: 'subnet', window: '5m', sort: 'messages', limit: 10 }, T0 + 1000)
    assert.deepEqual(subnets.map((r) => [r.key, r.counts.accepted]), [['subnet:192.0.2.0/24', 13]])
  })

  it('learns an hourly baseline and puts a 14-fold hour at a large z', async () => {
    const s = store()
    for (let h = 0; h < 72; h++) for (let i = 0; i < 10; i++) s.observe(['address:198.51.100.9'], { at: T0 + h * HOUR + i * MINUTE, counts: { accepted: 1 } })
    const burst = T0 + 72 * HOUR
    for (let i = 0; i < 140; i++) s.observe(['address:198.51.100.9'], { at: burst + i * 10_000, counts: { accepted: 1 } })
    const view = await s.show('address:198.51.100.9', burst + 59 * MINUTE)
    assert.ok(view?.baseline)
    assert.equal(view.baseline.hours, 72)
    assert.equal(view.baseline.messages.expected, 10)
    assert.equal(view.baseline.messages.ratio, 14)
    assert.ok(view.baseline.messages.z > 9, `z = ${view.baseline.messages.z}`)
  })

  it('counts quiet hours into the baseline when a client comes back', async () => {
    const s = store()
    for (let h = 0; h < 24; h++) s.observe(['address:198.51.100.10'], { at: T0 + h * HOUR, counts: { accepted: 10 } })
    s.observe(['address:198.51.100.10'], { at: T0 + 48 * HOUR, counts: { accepted: 1 } })
    const view = await s.show('address:198.51.100.10', T0 + 48 * HOUR + 1000)
    assert.equal(view?.baseline?.hours, 48)
    assert.ok(view.baseline.messages.expected < 10 && view.baseline.messages.expected > 4, String(view.baseline.messages.expected))
  })

  it('keeps baselines across a restart through its snapshot file', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'sg-stats-'))
    t.after(() => rm(dir, { recursive: true, force: true }))
    const file = join(dir, 'baselines.jsonl')
    const first = store(file)
    for (let h = 0; h < 30; h++) first.observe(['user:bob'], { at: T0 + h * HOUR, counts: { accepted: 5 } })
    first.observe(['user:bob'], { at: T0 + 30 * HOUR, counts: { accepted: 50 } })
    await first.close()
    const second = store(file)
    assert.equal(await second.load(), 1)
    second.observe(['user:bob'], { at: T0 + 30 * HOUR + 1000, counts: { accepted: 1 } })
    const view = await second.show('user:bob', T0 + 30 * HOUR + 2000)
    assert.equal(view?.baseline?.hours, 30)
    assert.equal(view.baseline.messages.expected, 5)
  })

  it('stays within its client bound whatever the number of distinct clients', () => {
    const s = new MemoryStatsStore({ maxClients: 5000, maxBaselines: 5000, snapshotFile: null })
    for (let i = 0; i < 100_000; i++) s.observe([`address:10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`], { at: T0 + i, counts: { connections: 1 } })
    assert.equal(s.size, 5000)
  })
})

describe('top recipient domains', () => {
  it('keeps the domains a client sends to most, within a bounded list, and shows them in its view', async () => {
    const s = store()
    for (let i = 0; i < 500; i++) {
      // Three busy domains among 400 one-off ones: the summary keeps 20 entries and still finds them.
      const domain = i % 5 === 0 ? 'gmail.example' : i % 5 === 1 ? 'yahoo.example' : i % 10 === 2 ? 'web.example' : `d${i}.example`
      s.observe(['address:192.0.2.70'], { at: T0 + i, counts: { accepted: 1 }, recipientDomains: [domain] })
    }
    const view = await s.show('address:192.0.2.70', T0 + 1000)
    assert.deepEqual(view?.topRecipientDomains.slice(0, 3).map((d) => d.domain), ['gmail.example', 'yahoo.example', 'web.example'])
    assert.ok((view.topRecipientDomains[0]?.count ?? 0) >= 100)
    assert.equal(view.topRecipientDomains.length, 10)
  })
})

describe('distinct counter', () => {
  it('counts small sets exactly and large ones within 15 %, merged too', () => {
    const small = new DistinctCounter()
    for (let i = 0; i < 10; i++) small.add(`d${i}.example`)
    small.add('d3.example')
    assert.equal(small.count(), 10)
    const large = new DistinctCounter()
    for (let i = 0; i < 20_000; i++) large.add(`d${i}.example`)
    assert.ok(Math.abs(large.count() - 20_000) < 3000, String(large.count()))
    const other = new DistinctCounter()
    for (let i = 10_000; i < 30_000; i++) other.add(`d${i}.example`)
    other.merge(small)
    large.merge(other)
    assert.ok(Math.abs(large.count() - 30_000) < 4500, String(large.count()))
  })
})

describe('refusal reasons', () => {
  it('groups check ids as the abuse desk asks about them', () => {
    assert.equal(refusalReason('connect.dnsbl'), 'dnsbl')
    assert.equal(refusalReason('mail.spf'), 'spf')
    assert.equal(refusalReason('connect.penalty_box'), 'penalty_box')
    assert.equal(refusalReason('rcpt.rate'), 'limit')
    assert.equal(refusalReason('data.from_mismatch'), 'header')
    assert.equal(refusalReason('data.content_scan'), 'content')
    assert.equal(refusalReason('helo.checks'), 'helo_rdns')
    assert.equal(refusalReason(undefined), 'other')
  })
})
