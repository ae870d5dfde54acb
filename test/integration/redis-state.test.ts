import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { stringify } from 'yaml'
import { freePort } from '../bench/ports.js'
import { eventually } from '../helpers/eventually.js'
import { metricsText, sample } from '../helpers/metrics.js'
import { runCli, spawnRelay } from '../helpers/process.js'
import type { RelayProcess } from '../helpers/process.js'
import { sharedRedis, startRedisServer, testKeyPrefix } from '../helpers/redis.js'
import type { RedisServer } from '../helpers/redis.js'
import { startRelay, testPolicy } from '../helpers/relay.js'
import type { PolicyTree, TestRelay } from '../helpers/relay.js'
import { outboundNodePolicy } from '../helpers/node-policy.js'
import { startSink } from '../helpers/sink.js'
import type { Sink } from '../helpers/sink.js'
import { message, sendOne, SmtpDialog } from '../helpers/smtp-client.js'

const TOKEN = 'redis-test-token'

/** A policy for a `serve --instance outbound` process: plain listener on a free port, state in Redis. */
function nodePolicy(redisUrl: string, prefix: string, sinkPort: number, adminPort: number): PolicyTree {
  return outboundNodePolicy({
    sinkPort,
    adminPort,
    redis: { url: redisUrl, prefix },
    outbound: (o) => (o.checks = [{ check: 'mail.rate', limits: { address: { default: '10/1m' } } }]),
  })
}

async function writePolicy(dir: string, name: string, tree: PolicyTree): Promise<string> {
  const file = join(dir, name)
  await writeFile(join(dir, 'admin.token'), `${TOKEN}\n`)
  await writeFile(file, stringify(tree))
  return file
}

describe('Redis backend: one limit across relay processes, a penalty box that outlives them', () => {
  let redis: { url: string; close(): Promise<void> }
  let sink: Sink
  let dir: string
  let file: string
  let fileB: string
  const nodes: RelayProcess[] = []
  before(async () => {
    redis = await sharedRedis()
    sink = await startSink({ starttls: false })
    dir = await mkdtemp(join(tmpdir(), 'shg-redis-nodes-'))
    // Two nodes with one policy: the same Redis and key prefix, an admin port each.
    const prefix = testKeyPrefix('nodes')
    file = await writePolicy(dir, 'node-a.yaml', nodePolicy(redis.url, prefix, sink.port, await freePort()))
    fileB = await writePolicy(dir, 'node-b.yaml', nodePolicy(redis.url, prefix, sink.port, await freePort()))
    nodes.push(await spawnRelay(['--config', file, '--instance', 'outbound']))
    nodes.push(await spawnRelay(['--config', fileB, '--instance', 'outbound']))
  })
  after(async () => {
    await Promise.all(nodes.map((n) => n.stop()))
    await sink.close()
    await redis.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('two relay processes sharing one Redis accept 10 messages a minute from one address in total, not 10 each', async () => {
    const [a, b] = nodes.map((n) => n.port('submission')) as [number, number]
    const before = sink.messages.length
    const replies = []
    for (let i = 0; i < 30; i++) {
      const r = await sendOne(i % 2 ? b : a, 'customer@split.test', ['x@ext.test'], message(`split ${i}`), { localAddress: '127.0.2.2' })
      replies.push(r)
    }
    const accepted = replies.filter((r) => r.end?.code === 250)
    const deferred = replies.filter((r) => r.mail.code === 451)
    // Tolerance 0: Redis counts atomically (one Lua script per message), so the two nodes never over-admit.
    assert.equal(accepted.length, 10)
    assert.equal(deferred.length, 20)
    assert.equal(sink.messages.length - before, 10)
    // Both nodes took part before the limit was reached.
    assert.ok(replies.slice(0, 10).every((r) => r.end?.code === 250))
    assert.match(deferred[0]?.mail.line ?? '', /^451 4\.7\.1 Message rate limit reached for your address 127\.0\.2\.2 \(limit 10 per 1m\); try again in \d+ s/)
  })

  it('keeps a penalty box entry across a restart of the relay', async () => {
    const add = await runCli(['penalty', 'add', '--config', file, '--address', '127.0.2.9', '--reason', 'outbreak on this line', '--duration', '1h'])
    assert.equal(add.code, 0, add.stderr)
    const first = nodes.shift()
    await first?.stop()
    const restarted = await spawnRelay(['--config', file, '--instance', 'outbound'])
    nodes.push(restarted)
    const c = await SmtpDialog.open({ port: restarted.port('submission'), localAddress: '127.0.2.9' })
    const g = await c.greeting
    c.destroy()
    assert.match(g.line, /^421 4\.7\.1 Address 127\.0\.2\.9 is blocked until .*: outbreak on this line; see https:\/\/postmaster\.example\.net\/why\/penalty-box$/)
    // The other node sees the same box.
    const other = nodes[0] as RelayProcess
    const d = await SmtpDialog.open({ port: other.port('submission'), localAddress: '127.0.2.9' })
    assert.equal((await d.greeting).code, 421)
    d.destroy()
    const list = await runCli(['penalty', 'list', '--config', file])
    assert.match(list.stdout, /^address 127\.0\.2\.9 until .*: outbreak on this line$/m)
  })
})

describe('Redis stopped mid-run', () => {
  let redis: RedisServer
  let sink: Sink
  let relay: TestRelay
  let tempfail: TestRelay
  before(async () => {
    redis = await startRedisServer()
    sink = await startSink()
    const withRedis = (onFailure: string, prefix: string) =>
      testPolicy([sink.port], (p) => {
        p.state = { backend: 'redis', redis: { url: redis.url, key_prefix: prefix, on_failure: onFailure, command_timeout: '300ms' } }
        p.instances.outbound.relay.networks = ['127.0.0.0/8']
        p.instances.outbound.checks = [
          { check: 'connect.rate', limits: { default: '1000/1m' } },
          { check: 'mail.rate', limits: { address: { default: '1000/1m' }, subnet: { default: '1000/1m' } } },
          { check: 'rcpt.rate', limits: { address: { default: '1000/1m' } } },
        ]
      })
    relay = await startRelay(withRedis('fail-open', 'open:'), { instances: ['outbound'] })
    tempfail = await startRelay(withRedis('tempfail', 'closed:'), { instances: ['outbound'] })
  })
  after(async () => {
    await relay.close()
    await tempfail.close()
    await sink.close()
    await redis.close()
  })

  it('fail-open: no crash and no lost message; every message got 250 and reached the sink, or got 4xx', async () => {
    const port = relay.port('submission')
    const outcomes: { subject: string; code: number | undefined }[] = []
    const send = async (i: number) => {
      const subject = `mid-run ${i}`
      try {
        const r = await sendOne(port, 'a@customer.test', ['x@ext.test'], message(subject), { localAddress: '127.0.2.3' })
        outcomes.push({ subject, code: r.end?.code ?? r.rcpt.find((x) => x.code !== 250)?.code ?? r.mail.code })
      } catch {
        outcomes.push({ subject, code: undefined })
      }
    }
    for (let i = 0; i < 10; i++) await send(i)
    await redis.stop()
    for (let i = 10; i < 25; i++) await send(i)
    const metrics = await metricsText(relay.adminUrl('/metrics'))
    assert.equal(sample(metrics, 'smarthost_redis_up', { mode: 'standalone' }), 0)
    assert.ok(sample(metrics, 'smarthost_redis_command_duration_seconds_count', { operation: 'limit' }) > 0)
    assert.ok(sample(metrics, 'smarthost_limit_state_failures_total', { check: 'mail.rate', action: 'fail-open' }) > 0)
    await redis.start()
    await eventually(async () => sample(await metricsText(relay.adminUrl('/metrics')), 'smarthost_redis_up'), (up) => up === 1, { what: 'the client to reconnect by itself' })
    const after = await metricsText(relay.adminUrl('/metrics'))
    assert.ok(sample(after, 'smarthost_redis_reconnects_total') > 0)
    for (let i = 25; i < 30; i++) await send(i)
    for (const o of outcomes) {
      const arrived = sink.messages.some((m) => m.text.includes(`Subject: ${o.subject}\r\n`))
      if (o.code === 250) assert.ok(arrived, `${o.subject} got 250 and reached the sink`)
      else {
        assert.ok(o.code !== undefined && o.code >= 400 && o.code < 500, `${o.subject} got ${o.code}`)
        assert.ok(!arrived)
      }
    }
    // Fail-open: the per-node memory limits answered while Redis was away, so mail flowed on.
    assert.equal(outcomes.filter((o) => o.code === 250).length, 30)
  })

  it('tempfail: while Redis is down the client gets 421/451 4.3.0, never a 5xx, and mail flows again once it is back', async () => {
    const port = tempfail.port('submission')
    assert.equal((await sendOne(port, 'a@customer.test', ['x@ext.test'], message('before'), { localAddress: '127.0.2.4' })).end?.code, 250)
    // A session that was open when Redis went away: its next message is deferred at MAIL.
    const open = await SmtpDialog.open({ port, localAddress: '127.0.2.4' })
    await open.greeting
    await open.cmd('EHLO pc.test')
    await redis.stop()
    const mail = await open.cmd('MAIL FROM:<a@customer.test>')
    await open.quit()
    assert.equal(mail.line, '451 4.3.0 Temporary local problem checking sending limits; please try again later; see https://postmaster.example.net/why/state-unavailable')
    const c = await SmtpDialog.open({ port, localAddress: '127.0.2.4' })
    const g = await c.greeting
    c.destroy()
    assert.equal(g.line, '421 4.3.0 Temporary local problem checking sending limits; please try again later; see https://postmaster.example.net/why/state-unavailable')
    await redis.start()
    const { value } = await eventually(
      () => sendOne(port, 'a@customer.test', ['x@ext.test'], message('after'), { localAddress: '127.0.2.4' }).catch(() => null),
      (r) => r?.end?.code === 250,
      { what: 'mail to flow after Redis came back' },
    )
    assert.equal(value?.end?.code, 250)
    const metrics = await metricsText(tempfail.adminUrl('/metrics'))
    // The penalty box is looked up first at connect, so it is the one that found Redis gone.
    assert.ok(sample(metrics, 'smarthost_limit_state_failures_total', { check: 'connect.penalty_box', action: 'tempfail' }) > 0)
  })
})

describe('Redis stopped, fail-open with a tight limit', () => {
  let redis: RedisServer
  let sink: Sink
  let relay: TestRelay
  before(async () => {
    redis = await startRedisServer()
    sink = await startSink()
    relay = await startRelay(
      testPolicy([sink.port], (p) => {
        p.state = { backend: 'redis', redis: { url: redis.url, key_prefix: 'tight:', on_failure: 'fail-open', command_timeout: '300ms' } }
        p.instances.outbound.relay.networks = ['127.0.0.0/8']
        p.instances.outbound.checks = [{ check: 'mail.rate', limits: { address: { default: '2/1m' } } }]
      }),
      { instances: ['outbound'] },
    )
  })
  after(async () => {
    await relay.close()
    await sink.close()
    await redis.close()
  })

  it('keeps enforcing the limit from per-node memory: the third message in the minute gets 451 4.7.1', async () => {
    await redis.stop()
    const port = relay.port('submission')
    const c = await SmtpDialog.open({ port, localAddress: '127.0.2.5' })
    await c.greeting
    await c.cmd('EHLO pc.test')
    const replies = []
    for (let i = 0; i < 3; i++) {
      replies.push(await c.cmd(`MAIL FROM:<m${i}@customer.test>`))
      await c.cmd('RSET')
    }
    await c.quit()
    assert.deepEqual(replies.map((r) => r.code), [250, 250, 451])
    assert.match(replies[2]?.line ?? '', /^451 4\.7\.1 Message rate limit reached for your address 127\.0\.2\.5 \(limit 2 per 1m\); try again in \d+ s/)
    const metrics = await metricsText(relay.adminUrl('/metrics'))
    assert.equal(sample(metrics, 'smarthost_redis_up', { mode: 'standalone' }), 0)
    assert.ok(sample(metrics, 'smarthost_limit_state_failures_total', { check: 'mail.rate', action: 'fail-open' }) >= 3)
    assert.ok(sample(metrics, 'smarthost_limit_hits_total', { check: 'mail.rate', dimension: 'address', mode: 'enforce' }) >= 1)
  })
})
