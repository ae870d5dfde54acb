import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Incident } from '../../src/alerts/incident.js'
import { startRelayCluster } from '../helpers/cluster.js'
import type { RelayCluster } from '../helpers/cluster.js'
import { eventually } from '../helpers/eventually.js'
import type { HaproxyBalancer } from '../helpers/haproxy.js'
import { metricsText, sample } from '../helpers/metrics.js'
import type { RelayProcess } from '../helpers/process.js'
import type { PolicyTree } from '../helpers/relay.js'
import type { Sink } from '../helpers/sink.js'
import { message, SmtpDialog } from '../helpers/smtp-client.js'
import type { Reply } from '../helpers/smtp-client.js'
import type { Receiver } from '../helpers/webhook-receiver.js'

// The cluster as deployed: Debian's HAProxy with send-proxy-v2 in front of two relay
// processes that share one real Redis, a sink as the next hop and a real webhook receiver as
// the ticket system. Clients are loopback addresses other than the balancer's, so each node
// must take the client from the PROXY header to see them.

const BALANCER = '127.0.0.5'
const TOKEN = 'cluster-e2e-token'
const SECRET = 'whsec_cluster-e2e-0123456789abcdef'
/** Class `limited`: 10 messages a minute per address, across the cluster. */
const LIMITED_NET = '127.0.8.0/24'
const LIMIT = 10
/** Class `load`: no rate limit, for the load run. */
const LOAD_NET = '127.0.6.0/24'
/** The bot's burst threshold: more than this many messages in 5 minutes is an incident. */
const BURST = 12

/** The bot (class default) raises an incident past `BURST`; the other classes are far from their threshold. */
const RULES = {
  default: [{ name: 'message_burst', kind: 'volume', counter: 'messages', window: '5m', above: BURST, severity: 'critical' }],
  limited: [{ name: 'message_burst', kind: 'volume', counter: 'messages', window: '5m', above: 10_000, severity: 'critical' }],
  load: [{ name: 'message_burst', kind: 'volume', counter: 'messages', window: '5m', above: 10_000, severity: 'critical' }],
}

/** Each node's instance: the two classes, and the message-rate limit on `limited`. */
function outbound(o: PolicyTree): void {
  o.classes = {
    networks: [
      { class: 'limited', cidrs: [LIMITED_NET] },
      { class: 'load', cidrs: [LOAD_NET] },
    ],
  }
  o.checks = [{ check: 'mail.rate', limits: { address: { default: 'unlimited', limited: `${LIMIT}/1m` } } }]
}

/** What one message got: the reply that decided it (250 at the end of DATA, or a refusal), or `lost` when the connection went away without one. */
interface Outcome {
  id: string
  code: number | 'lost'
  line: string
}

/** Connections that closed before any greeting, as a stopping node's listener drops them: a client retries these as a failed connect. */
let droppedBeforeGreeting = 0

/** Opens a session through the balancer; a connection closed before the greeting is tried again, as an MTA retries a failed connect. */
async function openSession(port: number, from: string): Promise<{ c: SmtpDialog; greeting: Reply }> {
  for (let attempt = 1; ; attempt++) {
    const c = await SmtpDialog.open({ port, localAddress: from })
    try {
      return { c, greeting: await c.greeting }
    } catch (err) {
      c.destroy()
      if (!c.closed || attempt === 3) throw err
      droppedBeforeGreeting++
    }
  }
}

/** One message on an open session; the reply that decided it (a refusal at MAIL stops there, as a client does). */
async function transaction(c: SmtpDialog, id: string): Promise<Reply> {
  const mail = await c.cmd(`MAIL FROM:<sender@${id}.test>`)
  if (mail.code !== 250) return mail
  const rcpt = await c.cmd('RCPT TO:<rcpt@remote.test>')
  if (rcpt.code !== 250) return rcpt
  const data = await c.cmd('DATA')
  if (data.code !== 354) return data
  c.write(`${message(id, 'Hello.\r\n', { 'Message-ID': `<${id}@cluster.test>` })}\r\n.\r\n`)
  return c.read()
}

/**
 * Sends a message per id from `from` through the balancer, `perSession` per connection; a
 * refused greeting or a 421 ends that connection and the next message opens a new one.
 */
async function sendThrough(port: number, from: string, ids: string[], perSession = ids.length): Promise<Outcome[]> {
  const outcomes: Outcome[] = []
  let c: SmtpDialog | null = null
  let inSession = 0
  for (const id of ids) {
    try {
      if (!c || c.closed || inSession >= perSession) {
        await c?.quit()
        inSession = 0
        const opened = await openSession(port, from)
        c = opened.c
        const ehlo = opened.greeting.code === 220 ? await c.cmd('EHLO client.test') : opened.greeting
        if (ehlo.code !== 250) {
          outcomes.push({ id, code: ehlo.code, line: ehlo.line })
          c.destroy()
          c = null
          continue
        }
      }
      inSession++
      const decided = await transaction(c, id)
      outcomes.push({ id, code: decided.code, line: decided.line })
      if (decided.code === 421) {
        c.destroy()
        c = null
      }
    } catch (err) {
      outcomes.push({ id, code: 'lost', line: (err as Error).message })
      c?.destroy()
      c = null
    }
  }
  await c?.quit()
  return outcomes
}

const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`)

describe('a cluster: HAProxy with send-proxy-v2, two relay processes, one Redis', () => {
  let cluster: RelayCluster
  let sink: Sink
  let receiver: Receiver
  let haproxy: HaproxyBalancer
  let nodes: RelayProcess[]
  let admin: string[]
  const auth = { authorization: `Bearer ${TOKEN}` }

  before(async () => {
    cluster = await startRelayCluster({ name: 'cluster-e2e', token: TOKEN, secret: SECRET, rules: RULES, outbound, balancer: BALANCER })
    ;({ sink, receiver, nodes, admin } = cluster)
    haproxy = cluster.haproxy!
  })
  after(() => cluster?.close())

  /** Addresses each node logged sessions from (its event lines). */
  const clientsOf = (node: RelayProcess) =>
    new Set(node.lines.filter((l) => l.event === 'session' || l.event === 'transaction').map((l) => (l.session as { client?: { address?: string } } | undefined)?.client?.address))

  it('lets both relays see the real client address, not the balancer\u2019s', async () => {
    const out = await sendThrough(haproxy.port, '127.0.7.1', ids('address', 4), 1)
    assert.deepEqual(
      out.map((o) => o.code),
      [250, 250, 250, 250],
    )
    for (const node of nodes) {
      await eventually(() => Promise.resolve(clientsOf(node)), (c) => c.has('127.0.7.1'), { what: 'the client address in the node\u2019s log' })
      assert.ok(!clientsOf(node).has(BALANCER), 'no session from the balancer\u2019s own address')
    }
  })

  it(`holds one message-rate limit across both nodes: exactly ${LIMIT} of 20 pass, however the connections are spread`, async () => {
    // Four connections at once, five messages each, spread round-robin over both nodes. Redis
    // counts atomically, so the tolerance is zero: not one message over the limit.
    const runs = await Promise.all([0, 1, 2, 3].map((k) => sendThrough(haproxy.port, '127.0.8.2', ids(`rate${k}`, 5))))
    const codes = runs.flat().map((o) => o.code)
    assert.equal(codes.filter((c) => c === 250).length, LIMIT, codes.join(' '))
    const refused = runs.flat().filter((o) => o.code !== 250)
    assert.equal(refused.length, 20 - LIMIT)
    for (const o of refused) assert.match(o.line, /^451 4\.7\.1 /)
    // Log lines are written in batches (within 100 ms): wait for each node's.
    for (const node of nodes) await eventually(() => Promise.resolve(clientsOf(node)), (c) => c.has('127.0.8.2'), { what: 'both nodes served the client' })
  })

  it('shows one statistics view of a client on either node\u2019s admin API', async () => {
    const view = (url: string) =>
      fetch(`${url}/api/stats/client?key=127.0.8.2`, { headers: auth }).then(async (r) =>
        r.status === 200 ? ((await r.json()) as { client: { windows: Record<string, { accepted: number }> } }) : null,
      )
    for (const url of admin) {
      await eventually(() => view(url), (v) => v?.client.windows['5m']?.accepted === LIMIT, { what: `the shared view at ${url}` })
    }
  })

  it('refuses a client that one node\u2019s admin API put in the penalty box on the other node too', async () => {
    const res = await fetch(`${admin[0]}/api/penalty`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ instance: 'outbound', scope: 'address', value: '127.0.7.3', why: 'abuse report 4711', who: 'desk', duration: '10m' }),
    })
    assert.equal(res.status, 201, await res.text())
    // Round-robin: two connections in a row reach both nodes.
    const out = await sendThrough(haproxy.port, '127.0.7.3', ids('boxed', 4), 1)
    for (const o of out) assert.match(o.line, /^421 4\.7\.1 /)
    // Log lines are written in batches (within 100 ms): wait for each node's.
    for (const node of nodes) await eventually(() => Promise.resolve(clientsOf(node)), (c) => c.has('127.0.7.3'), { what: 'both nodes refused the client' })
  })

  it('raises one incident, delivered once, for a bot whose burst is spread over both nodes', async () => {
    const out = await sendThrough(haproxy.port, '127.0.7.77', ids('bot', BURST + 1), 1)
    assert.ok(
      out.every((o) => o.code === 250),
      JSON.stringify(out),
    )
    const { value } = await eventually(() => Promise.resolve(receiver.received), (r) => r.length >= 1, { ms: 30_000, what: 'the incident' })
    const incident = value[0]!.body.data as unknown as Incident
    assert.ok(value[0]!.validSignature)
    assert.deepEqual([incident.rule, incident.client_key], ['message_burst', 'address:127.0.7.77'])
    // Later rounds on either node raise nothing new.
    await eventually(
      () => fetch(`${admin[1]}/api/alerts/show?id=${encodeURIComponent(incident.id)}`, { headers: auth }).then((r) => r.json() as Promise<{ incident: Incident }>),
      (x) => x.incident.observed === BURST + 1,
      { ms: 15_000, what: 'an evaluation round that saw the whole burst' },
    )
    assert.equal(receiver.unique().size, 1)
    const raised = await Promise.all(admin.map(async (url) => sample(await metricsText(`${url}/metrics`), 'smarthost_alerts_raised_total', { rule: 'message_burst' })))
    assert.equal(raised[0]! + raised[1]!, 1)
  })

  /**
   * Four clients send `total` messages through the balancer, four per connection; once a
   * quarter is sent, `stop` takes a node down. Returns every message's outcome and what `stop` gave.
   */
  async function loadWhile(prefix: string, total: number, stop: () => Promise<unknown>): Promise<{ outcomes: Outcome[]; stopped: unknown }> {
    const workers = 4
    const perWorker = total / workers
    let sent = 0
    const stopping: Promise<unknown>[] = []
    const outcomes = await Promise.all(
      Array.from({ length: workers }, async (_, w) => {
        const mine: Outcome[] = []
        const names = ids(`${prefix}${w}`, perWorker)
        for (let i = 0; i < perWorker; i += 4) {
          mine.push(...(await sendThrough(haproxy.port, `127.0.6.${w + 1}`, names.slice(i, i + 4))))
          sent += 4
          // The stop starts the moment a quarter is sent, while the other workers are mid-session.
          if (stopping.length === 0 && sent >= total / 4) stopping.push(stop())
        }
        return mine
      }),
    )
    assert.equal(stopping.length, 1, 'the node was stopped mid-load')
    return { outcomes: outcomes.flat(), stopped: await stopping[0] }
  }

  /** Every message of a load run has an outcome, and every one that got 250 reached the sink (its subject is its id). */
  function assertAcceptedSunk(outcomes: Outcome[], accepted: Outcome[], total: number): void {
    assert.equal(outcomes.length, total)
    const sunk = new Set(sink.messages.map((m) => /^Subject: (.*)$/m.exec(m.text)?.[1]))
    assert.deepEqual(
      accepted.filter((o) => !sunk.has(o.id)),
      [],
      'every 250 reached the sink',
    )
  }
  const transactionsOf = (node: RelayProcess) => node.lines.filter((l) => l.event === 'transaction').length

  it('loses no message when a node is stopped (SIGTERM) mid-load: each got 250 and reached the sink, or got a 4xx', async (t) => {
    const total = 80
    const before = transactionsOf(nodes[1]!)
    const { outcomes, stopped } = await loadWhile('term', total, () => nodes[1]!.stop('SIGTERM'))
    assert.equal(stopped, 0, 'the stopped node drained and exited cleanly')
    const accepted = outcomes.filter((o) => o.code === 250)
    const deferred = outcomes.filter((o) => typeof o.code === 'number' && o.code >= 400 && o.code < 500)
    t.diagnostic(
      `${accepted.length} accepted, ${deferred.length} deferred (${[...new Set(deferred.map((o) => o.line.slice(0, 9)))].join(', ')}), ${droppedBeforeGreeting} connections dropped before the greeting and retried`,
    )
    assertAcceptedSunk(outcomes, accepted, total)
    assert.deepEqual(
      outcomes.filter((o) => o.code !== 250 && !deferred.includes(o)),
      [],
      'every other message got a 4xx',
    )
    assert.ok(transactionsOf(nodes[1]!) > before, 'the stopped node had served part of the load')
    // The load went on through the remaining node after the stop.
    assert.ok(accepted.length > total / 2, `${accepted.length} of ${total} accepted`)
  })

  it('loses no accepted message when a node is killed (SIGKILL) mid-load, after the stopped one rejoined', async (t) => {
    const rejoined = await cluster.respawn(1)
    const total = 80
    const { outcomes } = await loadWhile('kill', total, () => nodes[0]!.stop('SIGKILL'))
    const accepted = outcomes.filter((o) => o.code === 250)
    const deferred = outcomes.filter((o) => typeof o.code === 'number' && o.code >= 400 && o.code < 500)
    // Killed, a node answers nothing more: its clients see the connection drop with no reply,
    // keep the message and retry it. A message whose next hop took it just before the kill may
    // arrive twice then; none may be lost.
    const cut = outcomes.filter((o) => o.code === 'lost')
    t.diagnostic(`${accepted.length} accepted, ${deferred.length} deferred, ${cut.length} cut off without a reply`)
    assertAcceptedSunk(outcomes, accepted, total)
    assert.deepEqual(
      outcomes.filter((o) => o.code !== 250 && !deferred.includes(o) && !cut.includes(o)),
      [],
      'no message was refused for good (5xx)',
    )
    assert.ok(transactionsOf(rejoined) > 0, 'the rejoined node served part of the load')
    assert.ok(accepted.length > total / 2, `${accepted.length} of ${total} accepted`)
  })
})
