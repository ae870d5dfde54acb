import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { stringify } from 'yaml'
import { freePort } from '../bench/ports.js'
import { metricsText, sample } from '../helpers/metrics.js'
import { outboundNodePolicy } from '../helpers/node-policy.js'
import { spawnRelay } from '../helpers/process.js'
import type { RelayProcess } from '../helpers/process.js'
import type { PolicyTree } from '../helpers/relay.js'
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

async function startCluster(dir: string, sink: Sink, outbound: (i: PolicyTree) => void = () => undefined): Promise<Cluster> {
  const adminPort = await freePort()
  const file = join(dir, 'relay.yaml')
  await writeFile(join(dir, 'admin.token'), `${TOKEN}\n`)
  await writeFile(file, stringify({ ...outboundNodePolicy({ sinkPort: sink.port, adminPort, outbound }), pid_file: 'relay.pid' }))
  // Three processes load the code at once: on a busy machine that takes a while.
  const relay = await spawnRelay(['--config', file, '--workers', '2'], 60_000)
  return { relay, admin: `http://127.0.0.1:${adminPort}`, port: relay.port('submission'), file }
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
  let dir: string
  let c: Cluster
  before(async () => {
    sink = await startSink({ starttls: false })
    dir = await mkdtemp(join(tmpdir(), 'shg-workers-'))
    c = await startCluster(dir, sink, (o) => {
      o.checks = [{ check: 'mail.rate', limits: { address: { default: '6/1m' } } }]
    })
  })
  after(async () => {
    await c.relay.stop()
    await sink.close()
    await rm(dir, { recursive: true, force: true })
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
    assert.equal(workersOf(c.relay, '127.0.6.3').size, 2)
    const after = sample(await metricsText(`${c.admin}/metrics`), 'smarthost_transactions_total', { outcome: 'delivered' })
    assert.equal(after - before, 4)
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
