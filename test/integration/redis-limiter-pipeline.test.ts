import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import pino from 'pino'
import { RedisBackend } from '../../src/limits/backend.js'
import { stateSchema } from '../../src/limits/schema.js'
import { startRedisServer, testKeyPrefix } from '../helpers/redis.js'
import type { RedisServer } from '../helpers/redis.js'

// The Redis client pipelines the commands of one event-loop turn automatically. A pipeline
// copies the client's script commands when it is made, so a rate limiter created while other
// state (statistics, the alert lease) already had a pipeline waiting queued its script call on a
// pipeline without it: the call threw, the pipeline's replies no longer lined up with its
// callbacks, and the relay process died of the uncaught TypeError.

describe('Redis backend: a limiter made while other commands are in flight', () => {
  let redis: RedisServer
  let backend: RedisBackend
  before(async () => {
    redis = await startRedisServer()
    const state = stateSchema.parse({ backend: 'redis', redis: { url: redis.url, key_prefix: testKeyPrefix('limiter-pipeline') } })
    backend = await RedisBackend.connect(state, undefined, pino({ level: 'silent' }))
  })
  after(async () => {
    await backend?.close()
    await redis?.close()
  })

  it('counts on the shared pipeline instead of crashing the process', async () => {
    // Another user of the client opens this turn's pipeline first (a statistics write).
    const other = backend.client.set('stats:touch', '1')
    const limiter = backend.limiter({ instance: 'outbound', check: 'mail.rate', prefix: 'rl:mail.rate:address', points: 2, windowMs: 60_000 })
    const results = await Promise.allSettled([other, limiter.consume('192.0.2.7'), limiter.consume('192.0.2.7'), limiter.consume('192.0.2.7')])
    // One more round trip: what the pipeline's callbacks do happens within this test.
    assert.equal(await backend.client.ping(), 'PONG')
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'fulfilled', 'fulfilled', 'rejected'],
    )
    const third = results[3]
    assert.ok(third?.status === 'rejected' && !(third.reason instanceof Error), 'the third is over the limit (a RateLimiterRes), not a fault')
  })
})
