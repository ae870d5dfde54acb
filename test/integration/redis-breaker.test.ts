import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { eventually } from '../helpers/eventually.js'
import { metricsText, sample } from '../helpers/metrics.js'
import { redisCli, startRedisServer } from '../helpers/redis.js'
import type { RedisServer } from '../helpers/redis.js'
import { startRelay, testPolicy } from '../helpers/relay.js'
import type { TestRelay } from '../helpers/relay.js'
import { startSink } from '../helpers/sink.js'
import type { Sink } from '../helpers/sink.js'
import { message, sendOne } from '../helpers/smtp-client.js'

const COMMAND_TIMEOUT_MS = 1000

interface Readyz {
  status: string
  degraded?: string[]
}

describe('Redis stalled (SIGSTOP), fail-open: the circuit breaker', () => {
  let redis: RedisServer
  let sink: Sink
  let relay: TestRelay
  before(async () => {
    redis = await startRedisServer()
    sink = await startSink()
    relay = await startRelay(
      testPolicy([sink.port], (p) => {
        p.state = { backend: 'redis', redis: { url: redis.url, key_prefix: 'brk:', on_failure: 'fail-open', command_timeout: `${COMMAND_TIMEOUT_MS}ms` } }
        p.instances.outbound.relay.networks = ['127.0.0.0/8']
        // Several Redis operations per message: the penalty box and three limits.
        p.instances.outbound.checks = [
          { check: 'connect.rate', limits: { default: '1000/1m' } },
          { check: 'mail.rate', limits: { address: { default: '1000/1m' }, subnet: { default: '1000/1m' } } },
          { check: 'rcpt.rate', limits: { address: { default: '1000/1m' } } },
        ]
      }),
      { instances: ['outbound'] },
    )
  })
  after(async () => {
    redis.resume()
    await relay.close()
    await sink.close()
    await redis.close()
  })

  const send = async (subject: string) => {
    const started = performance.now()
    const r = await sendOne(relay.port('submission'), 'a@customer.test', ['x@ext.test'], message(subject), { localAddress: '127.0.2.8' })
    return { code: r.end?.code, ms: performance.now() - started }
  }
  const readyz = async () => (await (await fetch(relay.adminUrl('/readyz'))).json()) as Readyz
  const counted = async () => Number((await redisCli(redis.port, 'GET', 'brk:outbound:rl:mail.rate:address:127.0.2.8')).trim() || 0)

  it('answers from memory at once while Redis is stalled, says so in /metrics and /readyz, and asks Redis again once it answers', async (t) => {
    assert.equal((await send('before')).code, 250)
    assert.equal(await counted(), 1)

    redis.pause()
    const stalled = []
    for (let i = 0; i < 8; i++) stalled.push(await send(`stalled ${i}`))
    // Nothing is lost: every message went through on the per-node memory limits.
    assert.deepEqual(stalled.map((s) => s.code), Array(8).fill(250))
    // The first message pays a few command timeouts; once the breaker is open, no message waits
    // for Redis at all (before it, each waited at least one command timeout per operation).
    for (const s of stalled.slice(2)) assert.ok(s.ms < COMMAND_TIMEOUT_MS, `a message took ${Math.round(s.ms)} ms with the breaker open`)
    const ms = stalled.map((s) => Math.round(s.ms))
    t.diagnostic(`stalled Redis: first message ${ms[0]} ms, then ${Math.min(...ms.slice(2))}-${Math.max(...ms.slice(2))} ms (command_timeout ${COMMAND_TIMEOUT_MS} ms)`)
    const metrics = await metricsText(relay.adminUrl('/metrics'))
    assert.equal(sample(metrics, 'smarthost_redis_breaker_open'), 1)
    assert.equal(sample(metrics, 'smarthost_redis_breaker_trips_total'), 1)
    assert.ok(sample(metrics, 'smarthost_limit_state_failures_total', { check: 'mail.rate', action: 'fail-open' }) >= 6)
    const ready = await readyz()
    assert.equal(ready.status, 'ready')
    assert.match(ready.degraded?.join('\n') ?? '', /^redis: circuit breaker open since .*; limits and the penalty box follow state\.redis\.on_failure$/m)

    redis.resume()
    await eventually(async () => sample(await metricsText(relay.adminUrl('/metrics')), 'smarthost_redis_breaker_open'), (open) => open === 0, {
      what: 'the breaker to close after a PONG',
    })
    assert.equal((await readyz()).degraded, undefined)
    const inRedis = await counted()
    assert.equal((await send('after')).code, 250)
    // Counted in Redis again, not in per-node memory.
    assert.equal(await counted(), inRedis + 1)
  })
})
