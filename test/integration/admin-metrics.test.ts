import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { message, SmtpDialog } from '../helpers/smtp-client.js'
import { sinkReply, startSink } from '../helpers/sink.js'
import type { Sink } from '../helpers/sink.js'
import { startRelay, testPolicy, waitFor } from '../helpers/relay.js'
import type { TestRelay } from '../helpers/relay.js'

/** The value of one sample in Prometheus text format, 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`)
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue
    if (want.every((w) => line.includes(w))) return Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return 0
}

describe('admin HTTP: metrics and health', () => {
  let sink: Sink
  let relay: TestRelay
  before(async () => {
    sink = await startSink({ onData: (m) => (m.text.includes('Subject: refuse') ? sinkReply('550 5.7.1 no thanks') : undefined) })
    relay = await startRelay(testPolicy([sink.port]))
    for (const subject of ['one', 'two', 'refuse']) {
      const c = await SmtpDialog.open({ port: relay.port('submission') })
      await c.greeting
      await c.cmd('EHLO pc.test')
      await c.send('a@customer.test', ['b@ext.test'], message(subject))
      await c.quit()
    }
    const stranger = await SmtpDialog.open({ port: relay.port('submission'), localAddress: '127.0.9.66' })
    await stranger.greeting
    await stranger.cmd('EHLO x.test')
    await stranger.cmd('MAIL FROM:<x@ext.test>')
    await stranger.cmd('RCPT TO:<y@ext.test>')
    await stranger.quit()
    // The refused transaction is logged and counted when its session ends.
    await waitFor(() => relay.logs.transactions().length === 4, 5000, 'four transactions')
  })
  after(async () => {
    await relay.close()
    await sink.close()
  })

  it('exposes connections, transactions by outcome, next-hop replies and latency, refusals and checks', async () => {
    const res = await fetch(relay.adminUrl('/metrics'))
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/)
    const text = await res.text()
    assert.equal(sample(text, 'smarthost_connections_total', { relay_instance: 'outbound', listener: 'submission' }), 4)
    assert.equal(sample(text, 'smarthost_transactions_total', { relay_instance: 'outbound', outcome: 'delivered' }), 2)
    assert.equal(sample(text, 'smarthost_transactions_total', { relay_instance: 'outbound', outcome: 'rejected' }), 2)
    assert.equal(sample(text, 'smarthost_nexthop_replies_total', { class: '2xx' }), 2)
    assert.equal(sample(text, 'smarthost_nexthop_replies_total', { class: '5xx' }), 1)
    assert.equal(sample(text, 'smarthost_nexthop_duration_seconds_count', { relay_instance: 'outbound' }), 3)
    assert.equal(sample(text, 'smarthost_refusals_total', { stage: 'rcpt', code: '554' }), 1)
    assert.equal(sample(text, 'smarthost_check_results_total', { check: 'rcpt.relay_auth', outcome: 'reject' }), 1)
    assert.ok(sample(text, 'smarthost_process_process_resident_memory_bytes') > 0)
    assert.equal(sample(text, 'smarthost_ready'), 1)
  })

  it('answers /healthz and /readyz, and 404 elsewhere', async () => {
    assert.deepEqual(await (await fetch(relay.adminUrl('/healthz'))).json(), { status: 'ok' })
    const ready = await fetch(relay.adminUrl('/readyz'))
    assert.equal(ready.status, 200)
    assert.equal((await fetch(relay.adminUrl('/nope'))).status, 404)
  })
})
