import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { stringify } from 'yaml'
import { freePort } from '../bench/ports.js'
import { eventually } from '../helpers/eventually.js'
import { metricsText, sample } from '../helpers/metrics.js'
import { runCli, spawnRelay } from '../helpers/process.js'
import type { RelayProcess } from '../helpers/process.js'
import { startRedisServer, testKeyPrefix } from '../helpers/redis.js'
import type { RedisServer } from '../helpers/redis.js'
import { outboundNodePolicy } from '../helpers/node-policy.js'
import type { PolicyTree } from '../helpers/relay.js'
import { startSink } from '../helpers/sink.js'
import type { Sink } from '../helpers/sink.js'
import { message, sendOne } from '../helpers/smtp-client.js'

// Per-client statistics of whole relay processes: two nodes sharing one Redis, and a memory
// backend whose baselines come from, and go back to, a snapshot file.

const TOKEN = 'stats-cluster-token'
const HOUR = 3_600_000

interface View {
  backend: string
  client: { windows: Record<string, { accepted: number }>; baseline: { hours: number; messages: { expected: number } } | null }
}

/** A `serve --instance outbound` policy: plain listener on a free port, the admin API on `adminPort`. */
function nodePolicy(sinkPort: number, adminPort: number, top: PolicyTree): PolicyTree {
  return outboundNodePolicy({ sinkPort, adminPort, top })
}

interface Node {
  file: string
  admin: string
  relay: RelayProcess
}

async function startNode(dir: string, name: string, tree: PolicyTree): Promise<Node> {
  const file = join(dir, `${name}.yaml`)
  await writeFile(join(dir, 'admin.token'), `${TOKEN}\n`)
  await writeFile(file, stringify(tree))
  const relay = await spawnRelay(['--config', file, '--instance', 'outbound'])
  return { file, admin: `http://127.0.0.1:${(tree.admin as { port: number }).port}`, relay }
}

async function view(node: Node, address: string): Promise<View | null> {
  const res = await fetch(`${node.admin}/api/stats/client?key=${address}`, { headers: { authorization: `Bearer ${TOKEN}` } })
  return res.status === 200 ? ((await res.json()) as View) : null
}

const send = (node: Node, from: string, subject: string) =>
  sendOne(node.relay.port('submission'), 'customer@cluster.test', ['x@ext.test'], message(subject), { localAddress: from })

describe('statistics of two relay processes on one Redis', () => {
  let redis: RedisServer
  let sink: Sink
  let dir: string
  const nodes: Node[] = []
  before(async () => {
    redis = await startRedisServer()
    sink = await startSink({ starttls: false })
    dir = await mkdtemp(join(tmpdir(), 'shg-stats-cluster-'))
    const state = { backend: 'redis', redis: { url: redis.url, key_prefix: testKeyPrefix('stats-cluster'), on_failure: 'fail-open', command_timeout: '300ms' } }
    for (const name of ['node-a', 'node-b']) nodes.push(await startNode(dir, name, nodePolicy(sink.port, await freePort(), { state })))
  })
  after(async () => {
    await Promise.all(nodes.map((n) => n.relay.stop()))
    await sink.close()
    await redis.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('shows on either node the sum of both; with Redis stopped mail flows and a node answers from its own memory, saying so', async () => {
    const [a, b] = nodes as [Node, Node]
    for (let i = 0; i < 3; i++) assert.equal((await send(a, '127.0.4.1', `via a ${i}`)).end?.code, 250)
    for (let i = 0; i < 2; i++) assert.equal((await send(b, '127.0.4.1', `via b ${i}`)).end?.code, 250)
    // Each node writes its counts to Redis once a second.
    for (const node of nodes) {
      await eventually(() => view(node, '127.0.4.1'), (v) => v?.client.windows['5m']?.accepted === 5, { what: 'both nodes\u2019 messages in the shared view' })
    }
    const shown = await runCli(['stats', 'show', '127.0.4.1', '--config', b.file])
    assert.equal(shown.code, 0, shown.stderr)
    assert.match(shown.stdout, /^address:127\.0\.4\.1 \(redis\): /)
    assert.match(shown.stdout, /^5m +5 +5 /m)

    await redis.stop()
    assert.equal((await send(a, '127.0.4.1', 'while Redis is down')).end?.code, 250)
    // Node A saw 4 messages itself; the 2 of node B are in Redis only.
    const local = await eventually(() => view(a, '127.0.4.1'), (v) => v?.client.windows['5m']?.accepted === 4, { what: 'node A\u2019s own figures' })
    assert.equal(local.value?.backend, 'this node only: Redis is not answering')
    const fallback = await runCli(['stats', 'show', '127.0.4.1', '--config', a.file])
    assert.equal(fallback.code, 0, fallback.stderr)
    assert.match(fallback.stdout, /^address:127\.0\.4\.1 \(this node only: Redis is not answering\): /)
    const top = await runCli(['stats', 'top', '--config', a.file])
    assert.equal(top.code, 0, top.stderr)
    assert.match(top.stdout, /^top address by messages, last 15m \(this node only: Redis is not answering\)\n/)
    assert.match(top.stdout, /^127\.0\.4\.1 +4 +4 /m)
    await eventually(
      async () => sample(await metricsText(`${a.admin}/metrics`), 'smarthost_stats_redis_operations_total', { result: 'failed' }),
      (failed) => failed > 0,
      { what: 'a failed statistics write counted' },
    )
  })
})

describe('statistics baselines of a relay process with the memory backend', () => {
  let sink: Sink
  let dir: string
  before(async () => {
    sink = await startSink({ starttls: false })
    dir = await mkdtemp(join(tmpdir(), 'shg-stats-snapshot-'))
  })
  after(async () => {
    await sink.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('starts from the baselines of its snapshot file and rewrites the file at shutdown', async () => {
    // 48 hours at 10 messages an hour, learned up to this hour: no quiet hour is folded in
    // even if the test runs into the next hour.
    const lastHour = Math.floor(Date.now() / HOUR)
    const baseline = { hours: 48, lastHour, mean: [10, 10, 0], variance: [4, 4, 0], week: null, weekSeen: null }
    const file = join(dir, 'stats-outbound.jsonl')
    await writeFile(file, `${JSON.stringify({ key: 'address:127.0.4.9', baseline })}\n`)
    const written = (await stat(file)).mtimeMs
    const node = await startNode(dir, 'memory', nodePolicy(sink.port, await freePort(), { stats: { snapshot_dir: '.', snapshot_every: '1h' } }))
    try {
      await node.relay.waitForLog((l) => l.msg === 'statistics baselines loaded' && l.baselines === 1, 5000, 'the baselines loaded')
      assert.equal((await send(node, '127.0.4.9', 'after the restart')).end?.code, 250)
      const shown = await runCli(['stats', 'show', '127.0.4.9', '--config', node.file])
      assert.equal(shown.code, 0, shown.stderr)
      assert.match(shown.stdout, /^baseline over 48 h, this last hour against it:$/m)
      assert.match(shown.stdout, /^ {2}messages +1 vs usual 10 \(overall\): 0\.1x, z = -/m)
    } finally {
      assert.equal(await node.relay.stop(), 0)
    }
    assert.ok((await stat(file)).mtimeMs > written, 'the snapshot was written again at shutdown')
    const lines = (await readFile(file, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { key: string; baseline: { hours: number } })
    assert.deepEqual(lines.find((l) => l.key === 'address:127.0.4.9')?.baseline.hours, 48)
  })
})
