import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Incident } from '../../src/alerts/incident.js'
import { eventually } from '../helpers/eventually.js'
import { relayWithSink, USER } from '../helpers/relay.js'
import { authPlain, message, SmtpDialog } from '../helpers/smtp-client.js'
import type { Reply } from '../helpers/smtp-client.js'
import { startReceiver } from '../helpers/webhook-receiver.js'
import type { Received, Receiver } from '../helpers/webhook-receiver.js'

// The alerting scenarios through the running relay: real SMTP sessions from loopback addresses
// (each one a customer), the relay's own statistics, its rules, its outbox and a real webhook
// receiver. Thresholds are small so that each scenario takes seconds; what is tested is the path.

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
const TOKEN = 'alerts-relay-admin-token'
const BOT = '127.0.1.66'
const BULK = '127.0.2.10'
const STEADY = ['127.0.3.1', '127.0.3.2', '127.0.3.3']
const EXCHANGE = '127.0.4.10'
const GUESSERS = ['127.0.5.1', '127.0.5.2', '127.0.5.3', '127.0.5.4', '127.0.5.5', '127.0.5.6']
const INTRUDER = '127.0.6.99'

/** Messages a bot gets through before its incident fires (the `default` class threshold). */
const BURST = 25
/** Messages to harvested addresses the relay refuses first. */
const REFUSED = 5

type IncidentBody = Incident & { [k: string]: unknown }
const incidentOf = (r: Received) => r.body.data as unknown as IncidentBody

async function session(port: number, localAddress: string, tls = false): Promise<SmtpDialog> {
  const c = await SmtpDialog.open({ port, localAddress })
  await c.greeting
  await c.cmd('EHLO pc.customer.test')
  if (tls) await c.starttls('pc.customer.test')
  return c
}

/** One transaction; RSET after one whose every recipient was refused, so the session goes on. */
async function transaction(c: SmtpDialog, from: string, to: string[], text: string): Promise<Reply | undefined> {
  const r = await c.send(from, to, text)
  if (!r.end) await c.cmd('RSET')
  return r.end
}

/** `n` messages in one session; the end-of-DATA reply codes. */
async function messages(port: number, localAddress: string, n: number, make: (i: number) => { from: string; to: string; text: string }): Promise<(number | undefined)[]> {
  const c = await session(port, localAddress)
  const codes: (number | undefined)[] = []
  for (let i = 0; i < n; i++) {
    const m = make(i)
    codes.push((await transaction(c, m.from, [m.to], m.text))?.code)
  }
  await c.quit()
  return codes
}

describe('alerting through the relay: bot, backscatter and cracked account over real SMTP', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shg-alerts-relay-'))
  writeFileSync(join(dir, 'hook.secret'), `${SECRET}\n`)
  writeFileSync(join(dir, 'admin.token'), `${TOKEN}\n`)
  let receiver: Receiver
  before(async () => {
    receiver = await startReceiver(SECRET)
  })
  after(async () => {
    await receiver.close()
  })
  const env = relayWithSink({}, (p) => {
    p.admin.token_file = join(dir, 'admin.token')
    const out = p.instances.outbound
    out.relay.networks = ['127.0.0.0/8']
    out.classes = { networks: [{ class: 'bulk', cidrs: ['127.0.2.0/24'] }] }
    out.checks = [
      {
        check: 'rcpt.recipient_access',
        rules: [{ match: ['.invalid'], action: 'reject', text: 'Recipient domain is reserved and can never receive mail' }],
      },
      { check: 'mail.null_sender_rate', limits: { address: { default: '100/1m' } } },
    ]
    p.alerts = {
      dir: join(dir, 'alerts'),
      evaluate_every: '300ms',
      retry: { min: '200ms', max: '1s' },
      webhooks: [{ name: 'desk', url: receiver.url, secret_file: join(dir, 'hook.secret') }],
      rules: {
        default: [
          { name: 'message_burst', kind: 'volume', counter: 'messages', window: '5m', above: BURST, severity: 'critical' },
          { name: 'backscatter', kind: 'bounce', window: '5m', min_volume: 15, recipient_domains: 15, ratio: 0.5 },
          { name: 'auth_cracked', kind: 'auth_cracked', window: '10m', failures: 10, severity: 'critical' },
        ],
        // A newsletter sender: the same rule, its own threshold.
        bulk: [{ name: 'message_burst', kind: 'volume', counter: 'messages', window: '5m', above: 500, severity: 'critical' }],
      },
    }
  })

  /** Incidents delivered for a client key, by incident id (the latest event of each). */
  const deliveredFor = (key: string) => {
    const byId = new Map<string, IncidentBody>()
    for (const r of receiver.received) if (incidentOf(r).client_key === key) byId.set(incidentOf(r).id, incidentOf(r))
    return byId
  }

  const incidentsApi = async (): Promise<Incident[]> => {
    const res = await fetch(env.relay.adminUrl('/api/alerts'), { headers: { authorization: `Bearer ${TOKEN}` } })
    assert.equal(res.status, 200)
    return ((await res.json()) as { incidents: Incident[] }).incidents
  }

  it('raises one critical incident for a bot burst from one address within 60 s, with its counts, refusals, subjects and Message-IDs; a bulk sender and steady senders raise none', async (t) => {
    const port = env.relay.port('submission')
    const before = env.sink.messages.length
    // Legitimate traffic first: a bulk sender above the default threshold (below its class's), and three small senders.
    const [bulk, ...steady] = await Promise.all([
      messages(port, BULK, 40, (i) => ({ from: 'news@shop.test', to: `reader${i}@list${i % 7}.test`, text: message(`Newsletter ${i}`) })),
      ...STEADY.map((a, k) => messages(port, a, 3, (i) => ({ from: `office${k}@firm.test`, to: `partner${i}@partner${k}.test`, text: message(`Invoice ${k}-${i}`) }))),
    ])
    assert.deepEqual(bulk, Array(40).fill(250))
    for (const s of steady) assert.deepEqual(s, [250, 250, 250])

    // The bot: harvested addresses the relay refuses, then spam to many domains.
    const started = Date.now()
    const c = await session(port, BOT)
    const refused: (number | undefined)[] = []
    for (let i = 0; i < REFUSED; i++) {
      const r = await c.send('promo@bot.test', [`user${i}@harvest${i}.invalid`], message('never sent'))
      refused.push(r.rcpt[0]?.code)
      await c.cmd('RSET')
    }
    const sent: { subject: string; messageId: string }[] = []
    const spam: (number | undefined)[] = []
    for (let i = 0; i < BURST; i++) {
      const m = { subject: `Cheap meds ${i}, 90% off`, messageId: `<spam-${i}@bot.test>` }
      sent.push(m)
      spam.push((await transaction(c, 'promo@bot.test', [`friend${i}@victim${i}.test`], message(m.subject, 'Buy now.\r\n', { 'Message-ID': m.messageId })))?.code)
    }
    await c.quit()
    assert.deepEqual(refused, Array(REFUSED).fill(550))
    assert.deepEqual(spam, Array(BURST).fill(250))

    const { value } = await eventually(() => Promise.resolve(deliveredFor(`address:${BOT}`)), (m) => m.size >= 1, { ms: 60_000, what: "the bot's incident" })
    const arrived = Date.now() - started
    assert.ok(arrived < 60_000, `delivered ${arrived} ms after the burst started`)
    t.diagnostic(`incident delivered ${arrived} ms after the burst started`)
    const delivery = receiver.received.find((r) => incidentOf(r).client_key === `address:${BOT}`)!
    assert.ok(delivery.validSignature)
    assert.equal(delivery.body.type, 'incident.firing')
    const i = [...value.values()][0]!
    assert.deepEqual([i.rule, i.severity, i.client_class, i.window, i.observed, i.threshold], ['message_burst', 'critical', 'default', '5m', BURST, BURST])
    assert.equal(i.summary, `${BURST} messages in 5m (threshold ${BURST})`)
    // Counts: what the bot sent, as the relay answered it.
    assert.equal(i.evidence.counts.transactions, REFUSED + BURST)
    assert.equal(i.evidence.counts.accepted, BURST)
    assert.equal(i.evidence.counts.refused, REFUSED)
    assert.equal(i.evidence.counts.recipient_domains, REFUSED + BURST)
    assert.deepEqual(i.evidence.refused_by, { access: REFUSED })
    assert.equal(i.evidence.refusals.length, REFUSED)
    for (const r of i.evidence.refusals) {
      assert.deepEqual([r.reason, r.check], ['access', 'rcpt.recipient_access'])
      assert.match(r.reply, /^550 5\.7\.1 Recipient domain is reserved and can never receive mail/)
    }
    // Samples: the latest spam, newest first, each subject with its own Message-ID.
    assert.deepEqual(
      i.evidence.samples.map((s) => [s.outcome, s.from, s.subject, s.message_id]),
      sent
        .slice(-5)
        .reverse()
        .map((m) => ['delivered', 'promo@bot.test', m.subject, m.messageId]),
    )

    // Exactly one incident: every other sender was in the statistics when the bot's round ran.
    const all = await incidentsApi()
    assert.deepEqual(
      all.map((x) => [x.client_key, x.rule]),
      [[`address:${BOT}`, 'message_burst']],
    )
    assert.equal(new Set(receiver.received.map((r) => incidentOf(r).id)).size, 1)
    assert.equal(env.sink.messages.length - before, 40 + 3 * STEADY.length + BURST)
  })

  it('raises a backscatter incident for a customer relaying bounces to many domains while it stays under its null-sender rate limit', async () => {
    const port = env.relay.port('submission')
    const codes = await messages(port, EXCHANGE, 20, (i) => ({
      from: '',
      to: `forged${i}@spoofed${i}.test`,
      text: message('Undelivered Mail Returned to Sender', 'Delivery has failed to these recipients.\r\n', { From: 'MAILER-DAEMON@exchange.customer.test' }),
    }))
    // Every bounce went through: the null-sender limit (100 a minute) did not stop it.
    assert.deepEqual(codes, Array(20).fill(250))
    const { value } = await eventually(() => Promise.resolve(deliveredFor(`address:${EXCHANGE}`)), (m) => m.size >= 1, { ms: 30_000, what: 'the backscatter incident' })
    assert.equal(value.size, 1)
    const i = [...value.values()][0]!
    assert.deepEqual([i.rule, i.kind, i.severity], ['backscatter', 'bounce', 'warning'])
    assert.ok(i.observed >= 15 && i.observed <= 20, `observed ${i.observed}`)
    assert.match(i.summary, /^\d+ null-sender messages \(100% of transactions\) to \d+ recipient domains in 5m$/)
    assert.equal(i.evidence.counts.null_sender, i.observed)
    assert.ok(i.evidence.samples.every((s) => s.from === '' && s.subject === 'Undelivered Mail Returned to Sender'))
  })

  it('raises a critical AUTH incident naming the account when guessing from some addresses is followed by a login from another one', async () => {
    const port = env.relay.port('submission')
    // Two wrong passwords per connection (the third would close it), from six addresses, over STARTTLS.
    const failures: number[] = []
    for (const [k, a] of GUESSERS.entries()) {
      const c = await session(port, a, true)
      for (let n = 0; n < 2; n++) failures.push((await c.cmd(authPlain(USER.name, `guess-${k}-${n}`))).code)
      await c.quit()
    }
    assert.deepEqual(failures, Array(12).fill(535))
    // The account's password, from an address it never used, then spam.
    const c = await session(port, INTRUDER, true)
    assert.equal((await c.cmd(authPlain(USER.name, USER.password))).code, 235)
    for (let n = 0; n < 3; n++) {
      assert.equal((await transaction(c, 'alice@customer.test', [`x${n}@victim${n}.test`], message(`Urgent invoice ${n}`)))?.code, 250)
    }
    await c.quit()

    const { value } = await eventually(() => Promise.resolve(deliveredFor(`user:${USER.name}`)), (m) => m.size >= 1, { ms: 30_000, what: 'the AUTH incident' })
    assert.equal(value.size, 1)
    const i = [...value.values()][0]!
    assert.deepEqual([i.rule, i.kind, i.severity, i.observed], ['auth_cracked', 'auth_cracked', 'critical', 12])
    assert.equal(i.summary, `${USER.name} logged in from new address ${INTRUDER} after 12 AUTH failures`)
    const details = i.evidence.details as { user: string; success_from: string; failure_addresses: { address: string; count: number }[] }
    assert.equal(details.user, USER.name)
    assert.equal(details.success_from, INTRUDER)
    assert.deepEqual(
      details.failure_addresses.map((f) => [f.address, f.count]).sort(),
      GUESSERS.map((a) => [a, 2]),
    )
  })
})
