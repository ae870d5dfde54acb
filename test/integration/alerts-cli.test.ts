import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { openIncident } from '../../src/alerts/incident.js'
import { defaultRules } from '../../src/alerts/schema.js'
import { detailsEvidence } from '../../src/alerts/evidence.js'
import { eventually } from '../helpers/eventually.js'
import { runCli } from '../helpers/process.js'
import { startRelay, testPolicy } from '../helpers/relay.js'
import type { TestRelay } from '../helpers/relay.js'
import { startReceiver } from '../helpers/webhook-receiver.js'
import type { Receiver } from '../helpers/webhook-receiver.js'

const TOKEN = 'test-token-alerts-77a1'
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'

describe('smarthost-guard alerts and the alerts admin API', () => {
  let relay: TestRelay
  let receiver: Receiver
  // An incident the relay finds in its incidents file at start, as after a restart.
  const rule = defaultRules().find((r) => r.name === 'auth_cracked')!
  const incident = openIncident(
    {
      rule,
      key: 'user:alice',
      clientClass: 'authenticated-user',
      window: '3600s',
      observed: 14,
      baseline: null,
      threshold: 10,
      summary: 'alice logged in from new address 127.0.9.80 after 14 AUTH failures',
      evidence: detailsEvidence({ user: 'alice', success_from: '127.0.9.80' }),
    },
    Date.now() - 60_000,
  )
  before(async () => {
    receiver = await startReceiver(SECRET)
    relay = await startRelay(
      testPolicy([2], (p) => {
        p.admin.token_file = 'admin.token'
        p.alerts = { dir: '.', evaluate_every: '1h', lease: '2h', retry: { min: '100ms', max: '1s' }, webhooks: [{ name: 'desk', url: receiver.url, secret_file: 'hook.secret' }] }
      }),
      { instances: ['outbound'], files: { 'admin.token': `${TOKEN}\n`, 'hook.secret': `${SECRET}\n`, 'incidents.json': JSON.stringify([incident]) } },
    )
  })
  after(async () => {
    await relay?.close()
    await receiver?.close()
  })
  const cli = (...args: string[]) => runCli(['alerts', ...args, '--url', relay.adminUrl(''), '--token-file', join(relay.dir, 'admin.token')])

  it('lists the firing incidents and shows one with its evidence and next step', async () => {
    const list = await cli('list')
    assert.equal(list.code, 0, list.stderr)
    assert.match(list.stdout, new RegExp(`^${incident.id} firing critical auth_cracked user:alice since \\S+Z: alice logged in from new address 127\\.0\\.9\\.80 after 14 AUTH failures\\n$`))
    const show = await cli('show', incident.id)
    assert.equal(show.code, 0, show.stderr)
    assert.match(show.stdout, /next step: The account alice logged in after password guessing from a new address: reset its password now/)
    assert.match(show.stdout, /details: \{"user":"alice","success_from":"127\.0\.9\.80"\}/)
    const json = await cli('show', incident.id, '--json')
    assert.equal((JSON.parse(json.stdout) as { client_key: string }).client_key, 'user:alice')
  })

  it('acknowledges, then resolves an incident by hand and delivers the resolution to the webhook', async () => {
    const ack = await cli('ack', incident.id, '--by', 'anna')
    assert.equal(ack.code, 0, ack.stderr)
    assert.match(ack.stdout, /^acknowledged inc-\S+ firing .* \(acked by anna\)/)
    const resolved = await cli('resolve', incident.id, '--by', 'anna')
    assert.equal(resolved.code, 0, resolved.stderr)
    assert.match(resolved.stdout, /^resolved inc-\S+ resolved critical auth_cracked user:alice/)
    const { value } = await eventually(() => Promise.resolve(receiver.received), (r) => r.length >= 1, { ms: 20_000, what: 'the resolution at the webhook' })
    assert.equal(value[0]!.body.type, 'incident.resolved')
    assert.equal(value[0]!.body.data.id, incident.id)
    assert.ok(value[0]!.validSignature)
    const metrics = await (await fetch(relay.adminUrl('/metrics'))).text()
    assert.match(metrics, /^smarthost_alert_deliveries_total\{sender="desk",result="ok"\} [1-9]/m)
    await eventually(() => fetch(relay.adminUrl('/metrics')).then((r) => r.text()), (t) => /^smarthost_alert_outbox_size 0$/m.test(t), { what: 'an empty outbox' })
    assert.match(metrics, /^smarthost_alert_outbox_oldest_seconds \d/m)
    assert.equal((await cli('list')).stdout, 'no firing incidents\n')
    assert.match((await cli('list', '--all')).stdout, new RegExp(`^${incident.id} resolved `))
  })

  it('refuses an unknown id with exit 1 and the API without the bearer token with 401', async () => {
    const unknown = await cli('show', 'inc-00000000000000000000')
    assert.equal(unknown.code, 1)
    assert.equal(unknown.stderr, 'smarthost-guard alerts: no incident inc-00000000000000000000\n')
    const res = await fetch(relay.adminUrl('/api/alerts'))
    assert.equal(res.status, 401)
    const bad = await fetch(relay.adminUrl('/api/alerts/ack'), { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: '{"id":""}' })
    assert.equal(bad.status, 400)
    assert.deepEqual(await bad.json(), { error: 'id: missing; by: missing' })
  })
})
