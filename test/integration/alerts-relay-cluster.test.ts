import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Incident } from '../../src/alerts/incident.js'
import { startRelayCluster } from '../helpers/cluster.js'
import type { RelayCluster } from '../helpers/cluster.js'
import { eventually } from '../helpers/eventually.js'
import { metricsText, sample } from '../helpers/metrics.js'
import type { RelayProcess } from '../helpers/process.js'
import { message, SmtpDialog } from '../helpers/smtp-client.js'
import type { Receiver } from '../helpers/webhook-receiver.js'

// Two relay processes on one Redis, sent to in turn as a load balancer would: a bot's burst split across both is
// one client to the statistics and one incident to the desk, raised by the node holding the lease.

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
const TOKEN = 'alerts-cluster-token'
const BOT = '127.0.1.77'
const BULK = '127.0.2.10'
/** Messages per node; the threshold is the sum, so no node alone sees enough. */
const HALF = 15

/** The bot (class default) raises an incident past the two halves together; a bulk sender needs far more. */
const RULES = {
  default: [{ name: 'message_burst', kind: 'volume', counter: 'messages', window: '5m', above: 2 * HALF, severity: 'critical' }],
  bulk: [{ name: 'message_burst', kind: 'volume', counter: 'messages', window: '5m', above: 500, severity: 'critical' }],
}

/** `n` messages from the bot (or another address) through one node; the end-of-DATA codes. */
async function spam(port: number, from: number, n: number, localAddress = BOT): Promise<(number | undefined)[]> {
  const c = await SmtpDialog.open({ port, localAddress })
  await c.greeting
  await c.cmd('EHLO bot.test')
  const codes: (number | undefined)[] = []
  for (let i = from; i < from + n; i++) {
    const r = await c.send('promo@bot.test', [`friend${i}@victim${i}.test`], message(`Cheap meds ${i}`, 'Buy now.\r\n', { 'Message-ID': `<spam-${i}@bot.test>` }))
    codes.push(r.end?.code)
  }
  await c.quit()
  return codes
}

describe('alerting in a cluster: two relay processes on one Redis', () => {
  let cluster: RelayCluster
  let receiver: Receiver
  let nodes: RelayProcess[]
  let admin: string[]
  before(async () => {
    cluster = await startRelayCluster({
      name: 'alerts-cluster',
      token: TOKEN,
      secret: SECRET,
      rules: RULES,
      outbound: (o) => (o.classes = { networks: [{ class: 'bulk', cidrs: ['127.0.2.0/24'] }] }),
    })
    ;({ receiver, nodes, admin } = cluster)
  })
  after(() => cluster?.close())

  const show = async (id: string): Promise<Incident> => {
    const res = await fetch(`${admin[1]}/api/alerts/show?id=${encodeURIComponent(id)}`, { headers: { authorization: `Bearer ${TOKEN}` } })
    assert.equal(res.status, 200)
    return ((await res.json()) as { incident: Incident }).incident
  }

  it('raises exactly one incident, delivered once, for a bot whose burst is split across both nodes', async (t) => {
    const [a, b] = nodes.map((n) => n.port('submission')) as [number, number]
    const started = Date.now()
    assert.deepEqual(await spam(a, 0, HALF), Array(HALF).fill(250))
    assert.deepEqual(await spam(b, HALF, HALF), Array(HALF).fill(250))

    const { value } = await eventually(() => Promise.resolve(receiver.received), (r) => r.length >= 1, { ms: 60_000, what: 'the incident' })
    const arrived = Date.now() - started
    assert.ok(arrived < 60_000, `delivered ${arrived} ms after the burst started`)
    t.diagnostic(`incident delivered ${arrived} ms after the burst started`)
    const first = value[0]!
    assert.ok(first.validSignature)
    const i = first.body.data as unknown as Incident
    assert.deepEqual([first.body.type, i.rule, i.client_key, i.observed], ['incident.firing', 'message_burst', `address:${BOT}`, 2 * HALF])
    assert.equal(i.evidence.counts.accepted, 2 * HALF)
    // Samples from both nodes' halves: the newest ones came through the second node.
    assert.equal(i.evidence.samples[0]?.subject, `Cheap meds ${2 * HALF - 1}`)
    assert.equal(i.evidence.samples[0]?.message_id, `<spam-${2 * HALF - 1}@bot.test>`)

    // One more message through the first node: the lease holder sees it (the incident's figure
    // moves) and still raises nothing new.
    assert.deepEqual(await spam(a, 2 * HALF, 1), [250])
    await eventually(() => show(i.id), (x) => x.observed === 2 * HALF + 1, { ms: 30_000, what: 'a later evaluation round' })
    assert.equal(receiver.received.length, 1)
    assert.equal(receiver.unique().size, 1)
    const raised = await Promise.all(admin.map(async (url) => sample(await metricsText(`${url}/metrics`), 'smarthost_alerts_raised_total', { rule: 'message_burst' })))
    assert.equal(raised[0]! + raised[1]!, 1)
  })

  it('judges a bulk sender by its class on the evaluating node even when another node served all its mail', async () => {
    const leader = nodes.findIndex((n) => n.lines.some((l) => l.msg === 'incident opened'))
    assert.ok(leader >= 0, 'one node opened the bot incident')
    const other = nodes[1 - leader]!.port('submission')
    const id = (receiver.received[0]!.body.data as unknown as Incident).id
    // Above the default threshold, far below the bulk class's; the evaluating node never sees a session of it.
    assert.deepEqual(await spam(other, 100, 2 * HALF + 5, BULK), Array(2 * HALF + 5).fill(250))
    // Two more bot messages, one after the other's evaluation: a round that began after the bulk run was stored.
    const seen = (await show(id)).observed
    for (const n of [1, 2]) {
      assert.deepEqual(await spam(other, 200 + n, 1), [250])
      await eventually(() => show(id), (x) => x.observed === seen + n, { ms: 30_000, what: `round ${n} after the bulk run` })
    }
    const res = await fetch(`${admin[leader]}/api/alerts`, { headers: { authorization: `Bearer ${TOKEN}` } })
    const { incidents } = (await res.json()) as { incidents: Incident[] }
    assert.deepEqual(
      incidents.map((x) => x.client_key),
      [`address:${BOT}`],
    )
    assert.equal(receiver.unique().size, 1)
  })
})
