import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { redisCli, startRedisCluster, startRedisServer, startSentinel } from '../helpers/redis.js'
import type { RedisServer } from '../helpers/redis.js'
import { startRelay, testPolicy } from '../helpers/relay.js'
import type { TestRelay } from '../helpers/relay.js'
import { startSink } from '../helpers/sink.js'
import type { Sink } from '../helpers/sink.js'
import { message, sendOne, SmtpDialog } from '../helpers/smtp-client.js'

const TOKEN = 'topology-token'

/** A relay whose limits and penalty box live in the Redis that `redis` describes. */
function relayOn(sink: Sink, redis: Record<string, unknown>): Promise<TestRelay> {
  return startRelay(
    testPolicy([sink.port], (p) => {
      p.admin.token_file = 'admin.token'
      p.state = { backend: 'redis', redis: { ...redis, key_prefix: 'topo:' } }
      p.instances.outbound.relay.networks = ['127.0.0.0/8']
      p.instances.outbound.checks = [{ check: 'mail.rate', limits: { address: { default: '2/1m' }, sender_domain: { default: '100/1m' } } }]
    }),
    { instances: ['outbound'], files: { 'admin.token': TOKEN } },
  )
}

/** Three messages from one address: the third is over the limit of 2 a minute. */
async function threeMessages(relay: TestRelay, localAddress: string): Promise<number[]> {
  const codes: number[] = []
  for (let i = 0; i < 3; i++) {
    const r = await sendOne(relay.port('submission'), 'a@topology.test', ['x@ext.test'], message(`topology ${i}`), { localAddress })
    codes.push(r.end?.code ?? r.mail.code)
  }
  return codes
}

/** Puts an address in the box through the admin API and returns the greeting it then gets. */
async function boxAndGreet(relay: TestRelay, address: string): Promise<string> {
  const res = await fetch(relay.adminUrl('/api/penalty'), {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ scope: 'address', value: address, why: 'topology test', who: 'noc' }),
  })
  assert.equal(res.status, 201)
  const c = await SmtpDialog.open({ port: relay.port('submission'), localAddress: address })
  const g = await c.greeting
  c.destroy()
  return g.line
}

describe('Redis Sentinel', () => {
  let master: RedisServer
  let sentinel: { port: number; close(): Promise<void> }
  let sink: Sink
  let relay: TestRelay
  before(async () => {
    master = await startRedisServer()
    sentinel = await startSentinel(master.port, 'smarthost')
    sink = await startSink()
    relay = await relayOn(sink, { sentinels: [`127.0.0.1:${sentinel.port}`], sentinel_name: 'smarthost' })
  })
  after(async () => {
    await relay.close()
    await sink.close()
    await sentinel.close()
    await master.close()
  })

  it('finds the master through the sentinel and keeps limits and the penalty box there', async () => {
    assert.deepEqual(await threeMessages(relay, '127.0.2.30'), [250, 250, 451])
    const keys = await redisCli(master.port, '--scan', '--pattern', 'topo:*')
    assert.match(keys, /^topo:outbound:rl:mail\.rate:address:127\.0\.2\.30$/m)
    assert.match(await boxAndGreet(relay, '127.0.2.31'), /^421 4\.7\.1 Address 127\.0\.2\.31 is blocked until /)
    assert.match(await redisCli(master.port, '--scan', '--pattern', 'topo:{pb:outbound}:*'), /^topo:\{pb:outbound\}:address:127\.0\.2\.31$/m)
  })
})

describe('Redis Cluster', () => {
  let cluster: { nodes: string[]; close(): Promise<void> }
  let sink: Sink
  let relay: TestRelay
  before(async () => {
    cluster = await startRedisCluster(3)
    sink = await startSink()
    relay = await relayOn(sink, { cluster: cluster.nodes })
  })
  after(async () => {
    await relay.close()
    await sink.close()
    await cluster.close()
  })

  it('counts limits on the node of each key and keeps the penalty box in one slot', async () => {
    assert.deepEqual(await threeMessages(relay, '127.0.2.40'), [250, 250, 451])
    assert.match(await boxAndGreet(relay, '127.0.2.41'), /^421 4\.7\.1 Address 127\.0\.2\.41 is blocked until /)
    const list = await fetch(relay.adminUrl('/api/penalty'), { headers: { authorization: `Bearer ${TOKEN}` } })
    const body = (await list.json()) as { entries: { value: string }[] }
    assert.deepEqual(body.entries.map((e) => e.value), ['127.0.2.41'])
  })
})
