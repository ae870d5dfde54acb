import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { pino } from 'pino'
import { startAlerting } from '../../src/alerts/start.js'
import type { RunningAlerting } from '../../src/alerts/start.js'
import { RedisBackend } from '../../src/limits/backend.js'
import { MemoryStatsStore } from '../../src/stats/memory-store.js'
import { RedisStatsStore } from '../../src/stats/redis-store.js'
import { alertsPolicy, observeSpam, secretFile } from '../helpers/alerts.js'
import { eventually } from '../helpers/eventually.js'
import { startRedisServer, testKeyPrefix } from '../helpers/redis.js'
import type { RedisServer } from '../helpers/redis.js'
import { startReceiver } from '../helpers/webhook-receiver.js'

const log = pino({ level: 'silent' })
const SECRET = 'a shared secret in plain text'

describe('alerting in a cluster of two nodes on one Redis', () => {
  let redis: RedisServer
  const stops: (() => Promise<void>)[] = []
  before(async () => {
    redis = await startRedisServer()
  })
  after(async () => {
    for (const stop of stops.reverse()) await stop()
    await redis.close()
  })

  /** Two nodes on the shared Redis, with a webhook to `url`. */
  async function cluster(url: string) {
    const prefix = testKeyPrefix('alerts')
    const policy = await alertsPolicy(
      `evaluate_every: 200ms
lease: 2s
retry: { min: 100ms, max: 400ms }
webhooks:
  - { name: desk, url: "${url}", secret_file: hook.secret }
`,
      undefined,
      `state:\n  backend: redis\n  redis: { url: "${redis.url}", key_prefix: "${prefix}" }\n`,
    )
    await secretFile(policy.dir, 'hook.secret', SECRET)
    const nodes: { stats: RedisStatsStore; running: RunningAlerting; stop: () => Promise<void> }[] = []
    for (let i = 0; i < 2; i++) {
      const backend = await RedisBackend.connect(policy.policy.state, undefined, log)
      const stats = new RedisStatsStore(backend.client, 'outbound', new MemoryStatsStore({ maxClients: 1000, maxBaselines: 100, snapshotFile: null }), log, { flushMs: 100 })
      const running = (await startAlerting({ loaded: policy, stats, backend, log })) as RunningAlerting
      let stopped = false
      const stop = async () => {
        if (stopped) return
        stopped = true
        await running.stop()
        await stats.close()
        await backend.close()
      }
      stops.push(stop)
      nodes.push({ stats, running, stop })
    }
    return nodes
  }

  it('raises one incident, delivered once, for a bot whose traffic is split across both nodes', async () => {
    const r = await startReceiver(SECRET)
    stops.push(() => r.close())
    const nodes = await cluster(r.url)
    // 350 + 350 messages: under the 500 of message_burst on either node alone.
    const now = Date.now()
    observeSpam(nodes[0]!.stats, '127.0.9.90', 350, now)
    observeSpam(nodes[1]!.stats, '127.0.9.90', 350, now)
    await eventually(() => Promise.resolve(r.received.length), (n) => n >= 1, { ms: 30_000, what: 'the incident at the receiver' })
    // Further rounds on both nodes change nothing.
    await Promise.all(nodes.map((n) => n.running.alerting.evaluate()))
    await Promise.all(nodes.map((n) => n.running.alerting.evaluate()))
    const [a, b] = await Promise.all(nodes.map((n) => n.running.alerting.list()))
    assert.deepEqual(a!.map((i) => [i.client_key, i.rule, i.observed]), [['address:127.0.9.90', 'message_burst', 700]])
    assert.deepEqual(b, a, 'both nodes see the same incident')
    assert.equal(r.unique().size, 1)
    assert.equal(r.received[0]!.body.data.id, a![0]!.id)
    assert.ok(r.received[0]!.validSignature)
  })
  it('keeps an undelivered incident in Redis and delivers it from the other node once the first one is gone', async () => {
    const probe = await startReceiver(SECRET)
    const port = probe.port
    await probe.close() // the receiver is down
    const nodes = await cluster(`http://127.0.0.1:${port}/hooks/abuse`)
    observeSpam(nodes[0]!.stats, '127.0.9.91', 600)
    await eventually(() => nodes[1]!.running.alerting.list(), (l) => l.length === 1, { ms: 30_000, what: 'the incident' })
    await nodes[0]!.stop()
    const r = await startReceiver(SECRET, port)
    stops.push(() => r.close())
    await eventually(() => Promise.resolve(r.received.length), (n) => n >= 1, { ms: 30_000, what: 'the delivery from the remaining node' })
    assert.equal(r.unique().size, 1)
    assert.equal(r.received[0]!.body.data.client_key, 'address:127.0.9.91')
  })
  it('sees AUTH guessing spread over both nodes as one cracked account', async () => {
    const r = await startReceiver(SECRET)
    stops.push(() => r.close())
    const nodes = await cluster(r.url)
    const auth = (node: number, address: string, ok: boolean) =>
      nodes[node]!.running.alerting.noteSession({
        time: Date.now(),
        stage: 'auth',
        outcome: ok ? 'authenticated' : 'rejected',
        user: 'bob',
        session: { client: { address, port: 40000, ptr: null }, clientClass: 'authenticated-user', user: ok ? 'bob' : null },
      })
    // 6 failures on each node: under the 10 of auth_cracked on either alone.
    for (let i = 0; i < 6; i++) {
      auth(0, `127.0.9.${110 + i}`, false)
      auth(1, `127.0.9.${120 + i}`, false)
    }
    auth(1, '127.0.9.130', true)
    await eventually(() => Promise.resolve(r.received.length), (n) => n >= 1, { ms: 30_000, what: 'the AUTH incident' })
    await Promise.all(nodes.map((n) => n.running.alerting.evaluate()))
    const data = r.received[0]!.body.data as unknown as { rule: string; client_key: string; summary: string }
    assert.deepEqual([data.rule, data.client_key], ['auth_cracked', 'user:bob'])
    assert.equal(data.summary, 'bob logged in from new address 127.0.9.130 after 12 AUTH failures')
    assert.equal(r.unique().size, 1)
  })
})
