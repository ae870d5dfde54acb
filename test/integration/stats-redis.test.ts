import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { Redis } from 'ioredis'
import { pino } from 'pino'
import { connectRedis, whenReady } from '../../src/limits/redis-client.js'
import type { RedisClient } from '../../src/limits/redis-client.js'
import { MemoryStatsStore } from '../../src/stats/memory-store.js'
import { RedisStatsStore } from '../../src/stats/redis-store.js'
import { spfRelayReport } from '../../src/stats/spf-report.js'
import { startRedisServer, testKeyPrefix } from '../helpers/redis.js'
import { waitFor } from '../helpers/relay.js'
import type { RedisServer } from '../helpers/redis.js'

const log = pino({ level: 'silent' })

describe('per-client statistics shared through Redis', () => {
  let redis: RedisServer
  const clients: RedisClient[] = []
  const prefix = testKeyPrefix('stats')
  const node = async () => {
    const client = connectRedis({ url: redis.url, key_prefix: prefix, connect_timeout: 2000, command_timeout: 500, on_failure: 'fail-open' } as never, undefined, log)
    clients.push(client)
    assert.ok(await whenReady(client, 5000), 'Redis answers')
    return new RedisStatsStore(client, 'outbound', new MemoryStatsStore({ maxClients: 1000, maxBaselines: 1000, snapshotFile: null }), log, { flushMs: 60_000 })
  }

  before(async () => {
    redis = await startRedisServer()
  })
  after(async () => {
    for (const c of clients) c.disconnect()
    await redis.close()
  })

  it('shows on either node the sum of what both nodes saw, with top and evidence', async () => {
    const [a, b] = [await node(), await node()]
    const now = Date.now()
    for (let i = 0; i < 3; i++) a.observe(['address:192.0.2.7', 'user:alice'], { at: now, counts: { accepted: 1, recipients: 2 }, recipientDomains: ['a.example', `x${i}.example`] })
    for (let i = 0; i < 4; i++) b.observe(['address:192.0.2.7'], { at: now, counts: { accepted: 1, recipients: 1 }, recipientDomains: ['b.example'] })
    b.observe(['address:192.0.2.8'], {
      at: now,
      counts: { transactions: 1, refused: 1 },
      refusal: { reason: 'dnsbl', check: 'connect.dnsbl', reply: '554 5.7.1 listed' },
    })
    await Promise.all([a.flush(), b.flush()])
    for (const store of [a, b]) {
      const view = await store.show('address:192.0.2.7', now + 1000)
      assert.equal(view?.windows['5m'].accepted, 7)
      assert.equal(view.windows['24h'].recipients, 10)
      assert.equal(view.windows['1h'].recipient_domains, 5)
      assert.deepEqual(view.topRecipientDomains.slice(0, 2), [{ domain: 'b.example', count: 4 }, { domain: 'a.example', count: 3 }])
    }
    const top = await a.top({ by: 'address', window: '15m', sort: 'messages', limit: 5 }, now + 1000)
    assert.equal(top.source, 'redis')
    assert.deepEqual(top.rows.map((r) => [r.key, r.counts.accepted]), [['address:192.0.2.7', 7]])
    const refused = await a.show('address:192.0.2.8', now + 1000)
    assert.deepEqual(refused?.windows['1m'].refused_by, { dnsbl: 1 })
    assert.equal(refused.refusals[0]?.check, 'connect.dnsbl')
    await Promise.all([a.close(), b.close()])
  })

  it('ranks top by the sort counter, most first, and keeps the top within the limit, not the first keys written', async () => {
    const a = await node()
    const now = Date.now()
    for (const [address, n] of [['192.0.2.31', 1], ['192.0.2.32', 2], ['192.0.2.33', 3]] as const) {
      for (let i = 0; i < n; i++) a.observe([`address:${address}`], { at: now, counts: { refused: 1, transactions: 1 } })
    }
    await a.flush()
    const top = await a.top({ by: 'address', window: '15m', sort: 'refused', limit: 2 }, now + 1000)
    assert.deepEqual(top.rows.map((r) => [r.key, r.counts.refused]), [['address:192.0.2.33', 3], ['address:192.0.2.32', 2]])
    await a.close()
  })

  it('reports on either node the sender domains whose SPF lacks the relay, with the clients of both nodes', async () => {
    const [a, b] = [await node(), await node()]
    const now = Date.now()
    const flagged = (client: string) => ({ at: now, counts: { accepted: 1, spf_relay_not_authorized: 1 }, spfRelayClient: client })
    a.observe(['sender_domain:office.example'], flagged('address:198.51.100.7'))
    b.observe(['sender_domain:office.example'], flagged('address:198.51.100.7'))
    b.observe(['sender_domain:office.example'], flagged('user:bob'))
    b.observe(['sender_domain:shop.example'], flagged('address:198.51.100.8'))
    await Promise.all([a.flush(), b.flush()])
    for (const store of [a, b]) {
      const report = await spfRelayReport(store, '24h', 10, now + 1000)
      assert.equal(report.source, 'redis')
      assert.deepEqual(
        report.rows.map((r) => [r.domain, r.messages, r.clients]),
        [
          ['office.example', 3, [{ client: 'address:198.51.100.7', count: 2 }, { client: 'user:bob', count: 1 }]],
          ['shop.example', 1, [{ client: 'address:198.51.100.8', count: 1 }]],
        ],
      )
    }
    await Promise.all([a.close(), b.close()])
  })

  it('keeps the newest evidence by when it happened, whichever node flushed last', async () => {
    const [a, b] = [await node(), await node()]
    const now = Date.now()
    const sample = (at: number, subject: string) => ({ at, id: subject, outcome: 'delivered', from: 'promo@bot.example', subject, recipientDomains: ['v.example'] })
    // Ten newer messages through b, flushed first; then ten older ones through a, flushed last.
    for (let i = 0; i < 10; i++) b.observe(['address:192.0.2.9'], { at: now - 1000 + i, counts: { accepted: 1 }, sample: sample(now - 1000 + i, `newer ${i}`) })
    await b.flush()
    for (let i = 0; i < 10; i++) a.observe(['address:192.0.2.9'], { at: now - 5000 + i, counts: { accepted: 1 }, sample: sample(now - 5000 + i, `older ${i}`) })
    await a.flush()
    const view = await a.show('address:192.0.2.9', now)
    assert.equal(view?.windows['5m'].accepted, 20)
    assert.deepEqual(
      view.samples.map((s) => s.subject),
      Array.from({ length: 10 }, (_, i) => `newer ${9 - i}`),
    )
    await Promise.all([a.close(), b.close()])
  })

  it('writes only the newest ten samples of a busy client per flush, and shows them newest first', async (t) => {
    const a = await node()
    const watcher = new Redis(redis.url)
    const monitor = await watcher.monitor()
    t.after(() => {
      monitor.disconnect()
      watcher.disconnect()
    })
    const pushed: number[] = []
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (args[0]?.toLowerCase() === 'zadd' && args[1]?.endsWith('recent-samples')) pushed.push((args.length - 2) / 2)
    })
    const now = Date.now()
    for (let i = 0; i < 500; i++) {
      a.observe(['address:192.0.2.60'], { at: now, counts: { accepted: 1 }, sample: { at: now + i, id: `m${i}`, outcome: 'delivered', from: 'a@shop.example', recipientDomains: ['x.example'] } })
    }
    await a.flush()
    await waitFor(() => pushed.length > 0)
    assert.deepEqual(pushed, [10])
    const view = await a.show('address:192.0.2.60', now + 1000)
    assert.equal(view?.windows['5m'].accepted, 500)
    assert.deepEqual(view.samples.map((s) => s.id), Array.from({ length: 10 }, (_, i) => `m${499 - i}`))
    await a.close()
  })

  it('keeps counting in memory and answers from it while Redis is down', async () => {
    const a = await node()
    const now = Date.now()
    a.observe(['address:192.0.2.50'], { at: now, counts: { accepted: 1 } })
    await a.flush()
    await redis.stop()
    try {
      a.observe(['address:192.0.2.50'], { at: now + 10, counts: { accepted: 1 } })
      await a.flush()
      const view = await a.show('address:192.0.2.50', now + 1000)
      assert.equal(view?.windows['5m'].accepted, 2, 'this node still counts both messages')
      assert.equal(view.source, 'local', 'the view says it is this node\u2019s alone')
      const top = await a.top({ by: 'address', window: '5m', sort: 'messages', limit: 5 }, now + 1000)
      assert.deepEqual([top.source, top.rows[0]?.counts.accepted], ['local', 2])
    } finally {
      await redis.start()
    }
    await a.close()
  })
})
