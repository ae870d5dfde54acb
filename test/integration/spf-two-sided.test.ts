import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { isDeepStrictEqual } from 'node:util'
import type { Incident } from '../../src/alerts/incident.js'
import { spfOutboundResults, spfResults } from '../../src/metrics/dns-check-metrics.js'
import type { CheckResult } from '../../src/pipeline/types.js'
import { relayWithDns } from '../helpers/dns-relay.js'
import type { PolicyTree } from '../helpers/relay.js'
import { eventually } from '../helpers/eventually.js'
import { metricValue } from '../helpers/metrics.js'
import { runCli } from '../helpers/process.js'
import { message, sendOne, SmtpDialog } from '../helpers/smtp-client.js'
import { startReceiver } from '../helpers/webhook-receiver.js'
import type { Receiver } from '../helpers/webhook-receiver.js'

// Outbound SPF from both sides, over real SMTP with a DNS server on loopback
// (test/fixtures/zones/spf.yaml): our egress addresses are 127.0.0.25 and 127.0.0.26; the
// office's line is 127.0.8.0/24, which office.test and shop.test authorize, the relay they do not.

const TOKEN = 'spf-two-sided-token'
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
const OFFICE = '127.0.8.1'
const OFFICE_2 = '127.0.8.2'
const BOT = '127.0.9.66'
const BALANCER = '127.0.10.1'
const MSG = message('two-sided SPF')

describe('outbound SPF for the client and for our egress addresses', () => {
  let receiver: Receiver
  before(async () => {
    receiver = await startReceiver(SECRET)
  })
  after(async () => {
    await receiver.close()
  })
  const t = relayWithDns(
    ['spf'],
    (p) => {
      p.egress = { addresses: ['127.0.0.25', '127.0.0.26'] }
      p.admin.token_file = 'admin.token'
      const out = p.instances.outbound
      out.relay.networks = ['127.0.0.0/8']
      ;(out.listeners as PolicyTree[]).push({ name: 'lb', address: '127.0.0.1', port: 0, tls: 'none', proxy_from: [`${BALANCER}/32`] })
      out.checks = [{ check: 'mail.spf_outbound', none: { default: { tag: 1 } } }]
      p.alerts = {
        dir: 'alerts',
        evaluate_every: '200ms',
        retry: { min: '200ms', max: '1s' },
        webhooks: [{ name: 'desk', url: receiver.url, secret_file: 'hook.secret' }],
        rules: { default: [{ name: 'spf_include', kind: 'spf_relay_not_authorized', window: '1h' }] },
      }
    },
    {},
    { instances: ['outbound'], files: { 'admin.token': `${TOKEN}\n`, 'hook.secret': `${SECRET}\n` } },
  )
  const send = (from: string, localAddress: string) =>
    sendOne(t.relay.port('submission'), from, ['bob@remote.test'], MSG, { localAddress, helo: 'pc.customer.test' })
  const lastTx = () => {
    const line = t.relay.logs.transactions().at(-1) as unknown as { msg?: string; tx?: { checks?: CheckResult[]; flags?: string[]; score?: number } }
    return { summary: line?.msg ?? '', tx: line?.tx, check: line?.tx?.checks?.find((c) => c.check === 'mail.spf_outbound') }
  }
  const api = async (path: string) => {
    const res = await fetch(t.relay.adminUrl(path), { headers: { authorization: `Bearer ${TOKEN}` } })
    return { status: res.status, body: (await res.json()) as Record<string, unknown> }
  }
  const outcome = (result: string) => metricValue(spfOutboundResults, { result })

  it('refuses a forged sender (SPF fails for the client and for our egress) with 550 5.7.23', async () => {
    const before = await metricValue(spfOutboundResults, { result: 'forged' })
    const r = await send('security@bank.test', BOT)
    assert.equal(
      r.mail.line,
      "550 5.7.23 bank.test does not allow this relay to send its mail (SPF fail for 127.0.0.25); send it through bank.test's own mail servers, " +
        'or ask its administrator to authorize this relay; see https://postmaster.example.net/why/spf-forged-sender',
    )
    assert.equal((await metricValue(spfOutboundResults, { result: 'forged' })) - before, 1)
    const refused = t.relay.logs.transactions().at(-1) as unknown as { tx?: { checks?: CheckResult[] } }
    const check = refused.tx?.checks?.find((c) => c.check === 'mail.spf_outbound')
    assert.equal(check?.detail, `bank.test: egress fail for 127.0.0.25, fail for 127.0.0.26; client fail for ${BOT}; forged sender`)
    assert.deepEqual(check?.flags, ['SPF_FORGED_SENDER'])
  })

  it('relays a customer whose SPF names its own line but not the relay, flagged SPF_RELAY_NOT_AUTHORIZED in the log line', async () => {
    const before = {
      outcome: await metricValue(spfOutboundResults, { result: 'relay_not_authorized' }),
      client: await metricValue(spfResults, { check: 'mail.spf_outbound', side: 'client', result: 'pass' }),
      egress: await metricValue(spfResults, { check: 'mail.spf_outbound', side: 'egress', result: 'fail' }),
    }
    const arrived = t.sink.messages.length
    const r = await send('billing@office.test', OFFICE)
    assert.equal(r.end?.code, 250, r.end?.line)
    assert.equal(t.sink.messages.length, arrived + 1)
    const { summary, tx, check } = lastTx()
    assert.deepEqual(tx?.flags, ['SPF_RELAY_NOT_AUTHORIZED'])
    assert.equal(tx?.score ?? 0, 0, 'a score of 0: relayed on its own merits')
    assert.equal(check?.detail, `office.test: egress fail for 127.0.0.25, fail for 127.0.0.26; client pass for ${OFFICE}; the domain\u2019s SPF lacks this relay`)
    assert.match(summary, /, flags=SPF_RELAY_NOT_AUTHORIZED,/)
    assert.equal((await metricValue(spfOutboundResults, { result: 'relay_not_authorized' })) - before.outcome, 1)
    assert.equal((await metricValue(spfResults, { check: 'mail.spf_outbound', side: 'client', result: 'pass' })) - before.client, 1)
    assert.equal((await metricValue(spfResults, { check: 'mail.spf_outbound', side: 'egress', result: 'fail' })) - before.egress, 1)
  })

  it('relays a sender whose SPF passes for our egress, whatever it says for the client', async () => {
    const before = await outcome('pass')
    const r = await send('news@pass.test', OFFICE)
    assert.equal(r.end?.code, 250, r.end?.line)
    const { tx, check } = lastTx()
    assert.equal(check?.outcome, 'continue')
    assert.equal(check?.detail, `pass.test: egress pass for 127.0.0.25, pass for 127.0.0.26; client fail for ${OFFICE}`)
    assert.equal(tx?.flags, undefined)
    assert.equal((await outcome('pass')) - before, 1)
  })

  it('softfail and none follow the policy: softfail scores 2 (the default), none scores 1 (this policy)', async () => {
    const soft = await send('someone@soft.test', OFFICE)
    assert.equal(soft.end?.code, 250, soft.end?.line)
    assert.deepEqual([lastTx().tx?.flags, lastTx().tx?.score], [['SPF_SOFTFAIL'], 2])
    const none = await send('someone@nospf.test', OFFICE)
    assert.equal(none.end?.code, 250, none.end?.line)
    assert.deepEqual([lastTx().tx?.flags, lastTx().tx?.score], [['SPF_NONE'], 1])
  })

  it('defers (451 4.7.24) a sender whose SPF fails for our egress and cannot be evaluated for the client now', async () => {
    const r = await send('someone@unsure.test', OFFICE)
    assert.equal(
      r.mail.line,
      '451 4.7.24 Temporary error evaluating the SPF record of unsure.test; please try again later; see https://postmaster.example.net/why/spf-temperror',
    )
  })

  it('evaluates the client side for the address a PROXY-protocol balancer names, not the balancer\u2019s', async () => {
    const c = await SmtpDialog.open({ port: t.relay.port('lb'), localAddress: BALANCER })
    c.write(`PROXY TCP4 ${OFFICE} 127.0.0.1 40000 25\r\n`)
    await c.greeting
    await c.cmd('EHLO pc.customer.test')
    const r = await c.send('billing@office.test', ['bob@remote.test'], MSG)
    await c.quit()
    assert.equal(r.end?.code, 250, r.end?.line)
    const { check } = lastTx()
    assert.equal(check?.detail, `office.test: egress fail for 127.0.0.25, fail for 127.0.0.26; client pass for ${OFFICE}; the domain\u2019s SPF lacks this relay`)
  })

  describe('the desk sees which customer domains need the relay in their SPF', () => {
    before(async () => {
      for (const [from, client] of [
        ['billing@office.test', OFFICE],
        ['orders@shop.test', OFFICE],
        ['orders@shop.test', OFFICE_2],
        ['orders@shop.test', OFFICE_2],
        ['orders@shop.test', OFFICE_2],
      ] as const) {
        const r = await send(from, client)
        assert.equal(r.end?.code, 250, r.end?.line)
      }
    })

    it('counts them per sender domain in the statistics, with the clients that sent them', async () => {
      const { body } = await api('/api/stats/client?key=sender_domain:shop.test')
      const client = body.client as { windows: Record<string, { spf_relay_not_authorized: number }>; spfRelayClients: { client: string; count: number }[] }
      assert.equal(client.windows['15m']?.spf_relay_not_authorized, 4)
      assert.deepEqual(client.spfRelayClients, [
        { client: `address:${OFFICE_2}`, count: 3 },
        { client: `address:${OFFICE}`, count: 1 },
      ])
    })

    it('lists them, most first, on GET /api/stats/spf', async () => {
      const { status, body } = await api('/api/stats/spf?window=1h')
      assert.equal(status, 200)
      const rows = body.rows as { domain: string; messages: number; clients: { client: string; count: number }[] }[]
      assert.deepEqual(
        rows.map((r) => [r.domain, r.messages, r.clients]),
        [
          ['shop.test', 4, [{ client: `address:${OFFICE_2}`, count: 3 }, { client: `address:${OFFICE}`, count: 1 }]],
          ['office.test', 3, [{ client: `address:${OFFICE}`, count: 3 }]],
        ],
      )
    })

    it('prints them with `smarthost-guard stats spf`', async () => {
      const r = await runCli(['stats', 'spf', '--config', t.relay.file, '--url', t.relay.adminUrl('')])
      assert.equal(r.code, 0, r.stderr)
      const lines = r.stdout.trimEnd().split('\n')
      assert.equal(lines[0], 'sender domains whose SPF passes for the client but fails for this relay, last 24h (memory):')
      assert.match(lines[3] ?? '', new RegExp(`^shop\\.test +4  \\S+Z  address:${OFFICE_2} 3, address:${OFFICE} 1$`))
      assert.match(lines[4] ?? '', new RegExp(`^office\\.test +3  \\S+Z  address:${OFFICE} 3$`))
    })

    it('raises an spf_relay_not_authorized incident per sender domain, with its clients, and none for the forged sender', async () => {
      const clients = [{ client: `address:${OFFICE_2}`, count: 3 }, { client: `address:${OFFICE}`, count: 1 }]
      const shopOf = (list: Incident[]) => list.find((i) => i.client_key === 'sender_domain:shop.test')
      // An incident raised at shop.test's first message takes the later ones as new evidence.
      const { value: incidents } = await eventually(
        async () => ((await api('/api/alerts')).body.incidents ?? []) as Incident[],
        (list) => list.length >= 2 && isDeepStrictEqual(shopOf(list)?.evidence.details, { clients }),
        { what: 'both incidents, shop.test with all its clients' },
      )
      const keys = incidents.map((i) => i.client_key).sort()
      assert.deepEqual(keys, ['sender_domain:office.test', 'sender_domain:shop.test'])
      const shop = shopOf(incidents)
      assert.equal(shop?.severity, 'info')
      assert.equal(shop?.observed, 4)
      assert.match(shop?.next_step ?? '', /^shop\.test's SPF record names its customers' own addresses but not this relay/)
      await eventually(
        () => Promise.resolve(receiver.received.some((r) => r.body.data.client_key === 'sender_domain:shop.test')),
        Boolean,
        { what: 'the webhook of shop.test' },
      )
    })
  })
})
