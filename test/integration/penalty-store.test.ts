import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { Redis } from 'ioredis'
import { pino } from 'pino'
import { MemoryPenaltyStore, RedisPenaltyStore } from '../../src/limits/penalty-store.js'
import { RedisBreaker } from '../../src/limits/redis-breaker.js'
import type { PenaltyEntry, PenaltyStore } from '../../src/limits/penalty-store.js'
import { eventually } from '../helpers/eventually.js'
import { sharedRedis, testKeyPrefix } from '../helpers/redis.js'

// Both penalty box stores keep one contract: expired entries are never listed or counted, and
// size() (read by the smarthost_penalty_box_entries metric on every scrape) agrees with list().

const entry = (value: string, ms: number): PenaltyEntry => ({ scope: 'address', value, who: 'test', why: 'store contract', when: Date.now(), until: Date.now() + ms })

function contract(store: () => PenaltyStore) {
  it('counts active entries without listing them, and stops counting one when it expires', async () => {
    const s = store()
    await s.put(entry('192.0.2.1', 60_000))
    await s.put(entry('192.0.2.2', 400))
    // Replacing an entry does not count it twice.
    await s.put(entry('192.0.2.1', 120_000))
    assert.equal(await s.size(), 2)
    await eventually(() => s.size(), (n) => n === 1, { what: 'the short entry to expire' })
    assert.deepEqual((await s.list()).map((e) => e.value), ['192.0.2.1'])
    assert.equal(await s.remove('address:192.0.2.1'), true)
    assert.equal(await s.size(), 0)
    assert.deepEqual(await s.list(), [])
  })
}

describe('penalty store: memory', () => {
  contract(() => new MemoryPenaltyStore(100))
})

describe('penalty store: Redis', () => {
  let redis: { url: string; close(): Promise<void> }
  let client: Redis
  let breaker: RedisBreaker
  before(async () => {
    redis = await sharedRedis()
    client = new Redis(redis.url, { keyPrefix: testKeyPrefix('penalty-store'), lazyConnect: true })
    await client.connect()
    breaker = new RedisBreaker(client, { probeMs: 500, log: pino({ level: 'silent' }) })
  })
  after(async () => {
    const keys = await client.keys(`${client.options.keyPrefix ?? ''}*`)
    if (keys.length) await client.del(...keys.map((k) => k.slice((client.options.keyPrefix ?? '').length)))
    breaker.close()
    client.disconnect()
    await redis.close()
  })
  contract(() => new RedisPenaltyStore(client, 'outbound', breaker))
})
