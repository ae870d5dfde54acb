import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { stringify } from 'yaml'
import { freePort } from '../bench/ports.js'
import { startDnsServer } from '../helpers/dns-server.js'
import type { TestDnsServer } from '../helpers/dns-server.js'
import { TEST_LISTS } from '../helpers/dns-relay.js'
import { eventually } from '../helpers/eventually.js'
import { metricsText, sample } from '../helpers/metrics.js'
import { outboundNodePolicy } from '../helpers/node-policy.js'
import { sharedRedis, testKeyPrefix } from '../helpers/redis.js'
import { spawnRelay } from '../helpers/process.js'
import type { RelayProcess } from '../helpers/process.js'
import { waitFor } from '../helpers/relay.js'
import { startSink } from '../helpers/sink.js'
import type { Sink } from '../helpers/sink.js'
import { SmtpDialog, message, sendOne } from '../helpers/smtp-client.js'

// `serve --workers 2`: two SMTP worker processes on the same listener, the memory state in the
// primary. The limits, the penalty box and /metrics hold for the instance as a whole.

const TOKEN = 'workers-token'

interface Cluster {
  relay: RelayProcess
  admin: string
  port: number
  file: string
}

/** A relay of two workers on `sink`; `node` says what the node policy adds (outbound checks, Redis, top-level sections). */
async function startCluster(dir: string, sink: Sink, node: Omit<Parameters<typeof outboundNodePolicy>[0], 'sinkPort' | 'adminPort'> = {}): Promise<Cluster> {
  const adminPort = await freePort()
  const file = join(dir, 'relay.yaml')
  await writeFile(join(dir, 'admin.token'), `${TOKEN}\n`)
  await writeFile(file, stringify({ ...outboundNodePolicy({ ...node, sinkPort: sink.port, adminPort }), pid_file: 'relay.pid' }))
  // Three processes load the code at once: on a busy machine that takes a while.
  const relay = await spawnRelay(['--config', file, '--workers', '2'], 60_000)
  return { relay, admin: `http://127.0.0.1:${adminPort}`, port: relay.port('submission'), file }
}

/** The worker processes of a primary: its children running `serve` (not, say, tsx's esbuild), from /proc. */
function workerPids(pid: number): number[] {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .filter((n) => {
      try {
        const stat = readFileSync(`/proc/${n}/stat`, 'latin1')
        const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
        return parent === pid && readFileSync(`/proc/${n}/cmdline`, 'latin1').split('\0').includes('serve')
      } catch {
        return false
      }
    })
    .map(Number)
}

/** The worker ids that wrote transaction lines for `address`. */
function workersOf(relay: RelayProcess, address: string): Set<unknown> {
  const seen = new Set<unknown>()
  for (const l of relay.lines) {
    const session = l.session as { client?: { address?: string } } | undefined
    if (session?.client?.address === address && l.worker !== undefined) seen.add(l.worker)
  }
  return seen
}

/** Sends one message per connection from `address` until both workers have served it and `n` were sent. */
async function sendFrom(c: Cluster, address: string, n: number): Promise<number[]> {
  const codes: number[] = []
  // Connections are dealt round-robin by the primary: in pairs, both workers get some.
  for (let i = 0; i < n; i += 2) {
    const pair = await Promise.all(
      [i, i + 1].filter((k) => k < n).map((k) => sendOne(c.port, 'bot@customer.test', ['x@ext.test'], message(`bot ${k}`), { localAddress: address })),
    )
    for (const r of pair) codes.push(r.end?.code ?? r.mail.code)
  }
  return codes
}

describe('serve --workers 2 on the memory backend', () => {
  let sink: Sink
  let dns: TestDnsServer
  let dir: string
  let c: Cluster
  before(async () => {
    sink = await startSink({ starttls: false })
    dns = await startDnsServer({ zones: ['dnsbl'] })
    dir = await mkdtemp(join(tmpdir(), 'shg-workers-'))
    c = await startCluster(dir, sink, {
      outbound: (o) => {
        o.checks = [{ check: 'mail.rate', limits: { address: { default: '6/1m' } } }]
        // 127.0.6.200 is an outsider: at most 2 connections at once.
        o.relay.networks = ['127.0.0.1/32', '127.0.6.0/25']
        o.limits.outsider_connections_per_address = 2
      },
      top: {
        dns: { servers: [`127.0.0.1:${dns.port}`], timeout: '1s', tries: 1 },
        dns_lists: { lists: { zen: TEST_LISTS.zen } },
        // One round at start: the primary's, which the alerting reads.
        egress: { addresses: ['127.0.0.25'], watch: { every: '1h' } },
      },
    })
  })
  after(async () => {
    await c.relay.stop()
    await sink.close()
    await dns.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('watches the egress addresses in the primary only: one lookup per address and list, not one per process', async () => {
    const name = '25.0.0.127.zen.dnsbl.test'
    await waitFor(() => dns.count(name) > 0, 10_000, 'the egress watch\u2019s lookup')
    // The workers are up (they answer SMTP) and have had their chance to look too.
    const sent = await sendOne(c.port, 'egress@customer.test', ['x@ext.test'], message('egress'), { localAddress: '127.0.6.10' })
    assert.equal(sent.end?.code, 250, sent.end?.line ?? JSON.stringify(sent))
    await new Promise((resolve) => setTimeout(resolve, 1000))
    assert.equal(dns.count(name), 1)
  })

  it('holds a bot to its message limit once, not once per worker: 6 of 14 messages pass, the others get 451 4.7.1', async () => {
    const codes = await sendFrom(c, '127.0.6.1', 14)
    assert.equal(codes.filter((code) => code === 250).length, 6, codes.join(' '))
    assert.equal(codes.filter((code) => code === 451).length, 8, codes.join(' '))
    await waitFor(() => workersOf(c.relay, '127.0.6.1').size === 2, 5000, 'transaction lines of both workers')
  })

  it('refuses a client put in the penalty box through the admin API on every worker', async () => {
    const res = await fetch(`${c.admin}/api/penalty`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ scope: 'address', value: '127.0.6.2', who: 'abuse desk', why: 'spam run reported' }),
    })
    assert.equal(res.status, 201, await res.text())
    const greetings = await Promise.all(
      [0, 1, 2, 3].map(async () => {
        const d = await SmtpDialog.open({ port: c.port, localAddress: '127.0.6.2' })
        const g = await d.greeting
        d.destroy()
        return g
      }),
    )
    for (const g of greetings) assert.match(g.line, /^(421 4|554 5)\.7\.1 .*spam run reported/)
    await waitFor(() => workersOf(c.relay, '127.0.6.2').size === 2, 5000, 'refusals logged by both workers')
  })

  it('/metrics counts the transactions of every worker', async () => {
    const before = sample(await metricsText(`${c.admin}/metrics`), 'smarthost_transactions_total', { outcome: 'delivered' })
    const codes = await sendFrom(c, '127.0.6.3', 4)
    assert.deepEqual(codes, [250, 250, 250, 250])
    await waitFor(() => workersOf(c.relay, '127.0.6.3').size === 2, 5000, 'transaction lines of both workers')
    const after = sample(await metricsText(`${c.admin}/metrics`), 'smarthost_transactions_total', { outcome: 'delivered' })
    assert.equal(after - before, 4)
  })

  it('answers the statistics API from the one store: a client\u2019s messages on both workers add up', async () => {
    const codes = await sendFrom(c, '127.0.6.4', 4)
    assert.deepEqual(codes, [250, 250, 250, 250])
    await waitFor(() => workersOf(c.relay, '127.0.6.4').size === 2, 5000, 'transaction lines of both workers')
    const view = await eventually(
      async () => {
        const res = await fetch(`${c.admin}/api/stats/client?key=127.0.6.4`, { headers: { authorization: `Bearer ${TOKEN}` } })
        return res.status === 200 ? ((await res.json()) as { client: { windows: Record<string, { accepted: number }> } }) : null
      },
      (v) => v?.client.windows['5m']?.accepted === 4,
      { what: 'the four messages in the statistics' },
    )
    assert.equal(view.value?.client.windows['5m']?.accepted, 4)
  })

  it('caps an outsider address\u2019s connections for the listener as a whole: the third at once gets 421 4.7.0 though two workers serve', async () => {
    const open = async () => {
      const d = await SmtpDialog.open({ port: c.port, localAddress: '127.0.6.200' })
      return { d, greeting: await d.greeting }
    }
    // One after the other: the primary deals them to the two workers in turn.
    const first = await open()
    const second = await open()
    const third = await open()
    try {
      assert.equal(first.greeting.code, 220)
      assert.equal(second.greeting.code, 220)
      assert.match(third.greeting.line, /^421 4\.7\.0 Too many connections from your address at once \(limit 2\)/)
    } finally {
      for (const x of [first, second, third]) x.d.destroy()
    }
    // The two admitted connections were each on a worker of its own (their closes are logged by both).
    await waitFor(() => workersOf(c.relay, '127.0.6.200').size === 2, 5000, 'sessions of the outsider on both workers')
  })

  it('restarts a worker that dies, and logs it', async () => {
    const pid = c.relay.child.pid as number
    const [victim] = workerPids(pid)
    assert.ok(victim, 'a worker process')
    process.kill(victim, 'SIGKILL')
    const died = await c.relay.waitForLog((l) => l.code === 'RELAY_ERR_WORKER_EXITED', 10_000, 'the exit logged')
    assert.equal(died.signal, 'SIGKILL')
    await c.relay.waitForLog((l) => l.msg === 'worker ready' && l.worker === 3, 60_000, 'a new worker ready')
    assert.deepEqual(await sendFrom(c, '127.0.6.5', 2), [250, 250])
  })
})

describe('serve --workers 2 on the Redis backend', () => {
  it('holds a bot to its message limit with each worker counting in Redis, and the statistics API adds up both workers', async (t) => {
    const redis = await sharedRedis()
    const sink = await startSink({ starttls: false })
    const dir = await mkdtemp(join(tmpdir(), 'shg-workers-'))
    const c = await startCluster(dir, sink, {
      outbound: (o) => (o.checks = [{ check: 'mail.rate', limits: { address: { default: '5/1m' } } }]),
      redis: { url: redis.url, prefix: testKeyPrefix('workers') },
    })
    t.after(async () => {
      await c.relay.stop()
      await sink.close()
      await redis.close()
      await rm(dir, { recursive: true, force: true })
    })
    const codes = await sendFrom(c, '127.0.6.20', 8)
    assert.equal(codes.filter((code) => code === 250).length, 5, codes.join(' '))
    await waitFor(() => workersOf(c.relay, '127.0.6.20').size === 2, 5000, 'transaction lines of both workers')
    // Each worker writes its counts to Redis once a second.
    await eventually(
      async () => {
        const res = await fetch(`${c.admin}/api/stats/client?key=127.0.6.20`, { headers: { authorization: `Bearer ${TOKEN}` } })
        return res.status === 200 ? ((await res.json()) as { client: { windows: Record<string, { transactions: number }> } }) : null
      },
      (v) => v?.client.windows['5m']?.transactions === 8,
      { what: 'the eight transactions in the statistics' },
    )
  })
})

describe('serve --workers 2: reload and drain', () => {
  it('SIGHUP reloads every worker; SIGTERM lets a message in flight finish with 250, and every process exits 0', async (t) => {
    const sink = await startSink({ starttls: false, delayMs: 1500 })
    const dir = await mkdtemp(join(tmpdir(), 'shg-workers-'))
    const c = await startCluster(dir, sink)
    t.after(async () => {
      await c.relay.stop('SIGKILL')
      await sink.close()
      await rm(dir, { recursive: true, force: true })
    })
    c.relay.child.kill('SIGHUP')
    for (const worker of [1, 2]) await c.relay.waitForLog((l) => l.msg === 'policy reloaded' && l.worker === worker, 10_000, `worker ${worker} reloaded`)
    const busy = await SmtpDialog.open({ port: c.port })
    await busy.greeting
    await busy.cmd('EHLO busy.test')
    await busy.cmd('MAIL FROM:<a@customer.test>')
    await busy.cmd('RCPT TO:<b@ext.test>')
    await busy.cmd('DATA')
    busy.write(message('in flight').replace(/\r?\n/g, '\r\n') + '\r\n.\r\n')
    // The sink holds the message for 1.5 s: SIGTERM arrives while it is in flight.
    await waitFor(() => sink.connections > 0, 5000, 'the message at the next hop')
    c.relay.child.kill('SIGTERM')
    const done = await busy.read()
    assert.equal(done.code, 250, done.line)
    assert.equal(sink.messages.length, 1)
    assert.equal(await c.relay.exited, 0)
    for (const worker of [1, 2]) assert.ok(c.relay.lines.some((l) => l.msg === 'stopped' && l.worker === worker), `worker ${worker} drained`)
  })
})
