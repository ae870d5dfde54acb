import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { runCli } from '../helpers/process.js'
import { USER, startRelay, testPolicy, waitFor } from '../helpers/relay.js'
import type { TestRelay } from '../helpers/relay.js'
import { startSink } from '../helpers/sink.js'
import type { Sink } from '../helpers/sink.js'
import { authPlain, message, sendOne, SmtpDialog } from '../helpers/smtp-client.js'

// Per-client statistics through the real relay: customers on their own loopback addresses,
// a recording sink as next hop, the admin API and the `stats` command reading them back.

const TOKEN = 'stats-test-token'
const CUSTOMER = '127.0.3.1' // in the relay networks: relays
const OUTSIDER = '127.0.3.2' // not in them, not logged in: relay denied
const BLOCKED = '127.0.3.3' // refused at connect by the access list
const GUESSER = '127.0.3.4' // wrong password, then the right one

interface Counts {
  connections: number
  accepted: number
  refused: number
  recipients: number
  recipient_domains: number
  auth_failures: number
  auth_successes: number
  null_sender: number
  refused_by: Record<string, number>
}
interface View {
  key: string
  windows: Record<string, Counts>
  refusals: { reason: string; check: string; reply: string }[]
  samples: { subject?: string; messageId?: string; outcome: string }[]
}

describe('per-client statistics: smarthost-guard stats and /api/stats', () => {
  let sink: Sink
  let relay: TestRelay
  const cli = (...args: string[]) => runCli(['stats', ...args, '--config', relay.file, '--url', relay.adminUrl('')])
  const api = async (path: string) => {
    const res = await fetch(relay.adminUrl(path), { headers: { authorization: `Bearer ${TOKEN}` } })
    return { status: res.status, body: (await res.json()) as Record<string, unknown> }
  }
  const show = async (key: string) => ((await api(`/api/stats/client?key=${encodeURIComponent(key)}`)).body.client as View | undefined)

  before(async () => {
    sink = await startSink()
    relay = await startRelay(
      testPolicy([sink.port], (p) => {
        p.admin.token_file = 'admin.token'
        p.instances.outbound.relay.networks = [`${CUSTOMER}/32`, `${GUESSER}/32`]
        p.instances.outbound.checks = [
          { check: 'connect.client_access', rules: [{ match: [BLOCKED], action: 'reject', text: 'Your address is blocked here' }] },
          { check: 'data.missing_message_id', action: { default: 'reject' } },
        ]
      }),
      { instances: ['outbound'], files: { 'admin.token': `${TOKEN}\n` } },
    )
    const port = relay.port('submission')
    for (let i = 0; i < 3; i++) {
      const r = await sendOne(port, 'alice@shop.test', [`bob${i}@remote${i % 2}.test`], message(`Invoice ${i}`, 'Hello.\r\n', { 'Message-ID': `<m${i}@shop.test>` }), { localAddress: CUSTOMER })
      assert.equal(r.end?.code, 250, r.end?.line)
    }
    const bounce = await sendOne(port, '', ['someone@remote0.test'], message('Undelivered Mail', 'Sorry.\r\n', { 'Message-ID': '<dsn1@shop.test>' }), { localAddress: CUSTOMER })
    assert.equal(bounce.end?.code, 250, bounce.end?.line)
    const noId = await sendOne(port, 'alice@shop.test', ['carol@remote0.test'], message('No id'), { localAddress: CUSTOMER })
    assert.equal(noId.end?.code, 550, noId.end?.line)
    const denied = await sendOne(port, 'bot@spam.test', ['victim@remote.test'], message('Cheap pills'), { localAddress: OUTSIDER })
    assert.equal(denied.rcpt[0]?.code, 554, denied.rcpt[0]?.line)
    const blocked = await SmtpDialog.open({ port, localAddress: BLOCKED })
    assert.equal((await blocked.greeting).code, 554)
    const guesser = await SmtpDialog.open({ port, localAddress: GUESSER })
    await guesser.greeting
    await guesser.starttls()
    assert.equal((await guesser.cmd(authPlain(USER.name, 'wrong'))).code, 535)
    assert.equal((await guesser.cmd(authPlain(USER.name, USER.password))).code, 235)
    await guesser.quit()
    // Every session has ended and been counted (a connection is counted when it closes).
    await waitFor(() => relay.logs.lines.filter((l) => l.event === 'session' && (l as { reason?: string }).reason !== undefined).length >= 0, 100)
    await waitFor(() => relay.logs.lines.some((l) => String(l.msg).includes(`[${GUESSER}]`) && String(l.msg).includes('status=disconnect')), 10_000, 'the last disconnect')
  })
  after(async () => {
    await relay.close()
    await sink.close()
  })

  it('counts a customer’s relayed, bounced and refused messages with recipients, domains, reasons and samples', async () => {
    const view = await show(CUSTOMER)
    assert.ok(view, 'the customer is known')
    const w = view.windows['15m']!
    assert.deepEqual(
      [w.connections, w.accepted, w.refused, w.recipients, w.recipient_domains, w.null_sender],
      [5, 4, 1, 5, 2, 1],
    )
    assert.deepEqual(w.refused_by, { header: 1 })
    assert.equal(view.refusals[0]?.check, 'data.missing_message_id')
    assert.match(view.refusals[0]?.reply ?? '', /^550 5\.7\.1 Message has no Message-ID header/)
    assert.deepEqual(view.samples.map((s) => s.subject).slice(0, 3), ['No id', 'Undelivered Mail', 'Invoice 2'])
    assert.equal(view.samples[1]?.messageId, '<dsn1@shop.test>')
    // The sender domain and the subnet are client keys of their own.
    assert.equal((await show('sender_domain:shop.test'))?.windows['1h']?.accepted, 3)
    assert.equal((await show('subnet:127.0.3.0/24'))?.windows['1h']?.connections, 8)
  })

  it('counts refusals before any message: relay denied, blocked at connect, a failed AUTH under the user tried', async () => {
    assert.deepEqual((await show(OUTSIDER))?.windows['5m']?.refused_by, { access: 1 })
    const blocked = await show(BLOCKED)
    assert.equal(blocked?.windows['5m']?.refused, 1)
    assert.deepEqual(blocked.windows['5m']?.refused_by, { access: 1 })
    assert.equal(blocked.refusals[0]?.check, 'connect.client_access')
    const user = await show(`user:${USER.name}`)
    assert.deepEqual([user?.windows['5m']?.auth_failures, user?.windows['5m']?.auth_successes], [1, 1])
    assert.equal((await show(GUESSER))?.windows['5m']?.auth_failures, 1)
    // A client refused at connect has its log line.
    assert.ok(relay.logs.lines.some((l) => String(l.msg).includes(`[${BLOCKED}]`) && String(l.msg).includes('554 5.7.1 Your address is blocked here')))
  })

  it('ranks clients with stats top and shows one with stats show, as tables and as JSON', async () => {
    const top = await cli('top', '--window', '15m', '--sort', 'messages', '--json')
    assert.equal(top.code, 0, top.stderr)
    const rows = (JSON.parse(top.stdout) as { rows: { key: string; counts: Counts }[] }).rows
    assert.deepEqual(rows.map((r) => [r.key, r.counts.accepted]), [[`address:${CUSTOMER}`, 4]])
    const refused = await cli('top', '--sort', 'refused', '--window', '1h')
    assert.equal(refused.code, 0, refused.stderr)
    assert.match(refused.stdout, /^top address by refused, last 1h \(memory\)\nclient +conns +msgs +refused/)
    for (const ip of [CUSTOMER, OUTSIDER, BLOCKED]) assert.match(refused.stdout, new RegExp(`^${ip.replace(/\./g, '\\.')} `, 'm'))
    const shown = await cli('show', CUSTOMER)
    assert.equal(shown.code, 0, shown.stderr)
    assert.match(shown.stdout, new RegExp(`^address:${CUSTOMER.replace(/\./g, '\\.')} \\(memory\\): first seen \\S+Z, last seen \\S+Z`))
    assert.match(shown.stdout, /^15m +5 +4 +1 +0 +5 +2 +1 +0 +\d+ +header=1$/m)
    assert.match(shown.stdout, /data\.missing_message_id: 550 5\.7\.1 Message has no Message-ID header/)
    const byUser = await cli('top', '--by', 'user', '--sort', 'auth_failures')
    assert.match(byUser.stdout, new RegExp(`^${USER.name} `, 'm'))
  })

  it('answers unknown clients with 404 and bad queries with 400 or a usage error', async () => {
    assert.equal((await api('/api/stats/client?key=192.0.2.99')).status, 404)
    assert.match(String((await api('/api/stats/top?window=2d')).body.error), /window: must be one of 1m, 5m, 15m, 1h, 24h/)
    const res = await fetch(relay.adminUrl('/api/stats/top'))
    assert.equal(res.status, 401)
    const unknown = await cli('show', '192.0.2.99')
    assert.equal(unknown.code, 1)
    assert.match(unknown.stderr, /^smarthost-guard stats: nothing counted for address:192\.0\.2\.99 in the last 24 hours\n$/)
    const usage = await runCli(['stats', 'top', '--window', '2d'])
    assert.equal(usage.code, 2)
    assert.match(usage.stderr, /--window must be one of 1m, 5m, 15m, 1h, 24h, got "2d"/)
  })
})
