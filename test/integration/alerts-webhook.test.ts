import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { pino } from 'pino'
import { startAlerting } from '../../src/alerts/start.js'
import type { RunningAlerting } from '../../src/alerts/start.js'
import { MemoryStatsStore } from '../../src/stats/memory-store.js'
import { alertsPolicy, observeSpam, observeSteady, secretFile } from '../helpers/alerts.js'
import { eventually } from '../helpers/eventually.js'
import { startReceiver } from '../helpers/webhook-receiver.js'
import type { Receiver } from '../helpers/webhook-receiver.js'

const log = pino({ level: 'silent' })
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
const newStats = () => new MemoryStatsStore({ maxClients: 10_000, maxBaselines: 1000, snapshotFile: null })

/** The alerts section of a test policy: fast evaluation and retries, one webhook. */
const section = (url: string, secret: string) => `evaluate_every: 200ms
retry: { min: 100ms, max: 400ms }
dir: ./alerts
webhooks:
  - { name: desk, url: "${url}", secret_file: ${secret} }
rules:
  bulk-sender:
    - { name: message_burst, kind: volume, counter: messages, window: 5m, above: 20000, severity: critical }
`

describe('incidents delivered to a webhook receiver', () => {
  const stops: (() => Promise<void>)[] = []
  after(async () => {
    for (const stop of stops.reverse()) await stop()
  })
  const start = async (...args: Parameters<typeof startAlerting>) => {
    const running = (await startAlerting(...args)) as RunningAlerting
    stops.push(() => running.stop())
    return running
  }
  const receiver = async (port = 0) => {
    const r = await startReceiver(SECRET, port)
    stops.push(() => r.close())
    return r
  }

  it('raises exactly one incident for a bot burst from one address, signed, with the evidence of what was sent; steady and bulk senders raise none', async () => {
    const r = await receiver()
    const policy = await alertsPolicy(section(r.url, 'hook.secret'))
    await secretFile(policy.dir, 'hook.secret', SECRET)
    const stats = newStats()
    const started = Date.now()
    const classOf = (key: string) => (key === 'address:127.0.5.5' ? 'bulk-sender' : 'default')
    const { alerting } = await start({ loaded: policy, stats, backend: null, classOf, log })

    for (const a of ['127.0.1.7', '127.0.1.8', '127.0.1.9']) observeSteady(stats, a, 40)
    observeSteady(stats, '127.0.5.5', 3000) // the customer's newsletter server: its class allows it
    observeSpam(stats, '127.0.9.66', 600)

    const { value } = await eventually(
      () => Promise.resolve(r.received),
      (got) => got.length >= 1,
      { ms: 60_000, what: 'the incident at the receiver' },
    )
    const took = Date.now() - started
    assert.ok(took < 60_000, `delivered ${took} ms after the burst started`)
    // Evaluations keep running: still exactly one incident, and nothing for the others.
    await alerting.evaluate()
    await alerting.evaluate()
    const incidents = await alerting.list()
    assert.deepEqual(incidents.map((i) => [i.client_key, i.rule, i.status]), [['address:127.0.9.66', 'message_burst', 'firing']])
    assert.equal(r.received.length, 1)
    const got = value[0]!
    assert.ok(got.validSignature, 'the webhook-signature checks out with the shared secret')
    assert.match(got.id, /^evt_/)
    assert.equal(got.body.type, 'incident.firing')
    const data = got.body.data as unknown as {
      id: string
      observed: number
      evidence: { counts: Record<string, number>; samples: { subject: string; message_id: string }[]; top_recipient_domains: unknown[]; details: { also_firing: string[] } }
      action: { penalty_box_until: string | null }
    }
    assert.equal(data.id, incidents[0]!.id)
    assert.equal(data.observed, 600)
    assert.equal(data.evidence.counts.accepted, 600)
    assert.equal(data.evidence.counts.recipient_domains, 40)
    assert.equal(data.evidence.samples[0]?.subject, 'Cheap meds, 90% off')
    assert.match(data.evidence.samples[0]?.message_id ?? '', /^<spam\d+@bot\.example>$/)
    assert.ok(data.evidence.details.also_firing.some((s) => s.startsWith('volume_rise:')), 'the rise rule is folded into the same incident')
  })

  it('delivers an incident held while the receiver was down once it is up, once per delivery id, with a valid signature', async () => {
    const probe = await startReceiver(SECRET)
    const port = probe.port
    await probe.close() // nothing listens there now: connection refused
    const url = `http://127.0.0.1:${port}/hooks/abuse`
    const policy = await alertsPolicy(section(url, 'hook.secret'))
    await secretFile(policy.dir, 'hook.secret', SECRET)
    const stats = newStats()
    const { alerting } = await start({ loaded: policy, stats, backend: null, log })
    observeSpam(stats, '127.0.9.67', 700)
    await eventually(
      () => readFile(join(policy.dir, 'alerts', 'outbox.jsonl'), 'utf8'),
      (text) => (text.match(/"op":"retry"/g) ?? []).length >= 3,
      { ms: 20_000, what: 'three failed attempts' },
    )
    const r: Receiver = await receiver(port)
    await eventually(() => Promise.resolve(r.received.length), (n) => n >= 1, { ms: 20_000, what: 'the delivery after the receiver came back' })
    await alerting.evaluate()
    assert.equal(r.unique().size, 1, 'one delivery id')
    assert.ok(r.received.every((x) => x.validSignature))
    assert.equal(r.received[0]!.body.data.id, (await alerting.list())[0]!.id)
    const journal = (await readFile(join(policy.dir, 'alerts', 'outbox.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { op: string; id?: string })
    assert.deepEqual(journal.at(-1), { op: 'done', id: r.received[0]!.id }, 'the journal records the confirmation last')
  })

  it('delivers after a restart what was waiting while the receiver was down', async () => {
    const probe = await startReceiver(SECRET)
    const port = probe.port
    await probe.close()
    const url = `http://127.0.0.1:${port}/hooks/abuse`
    const policy = await alertsPolicy(section(url, 'hook.secret'))
    await secretFile(policy.dir, 'hook.secret', SECRET)
    const stats = newStats()
    const first = await startAlerting({ loaded: policy, stats, backend: null, log })
    observeSpam(stats, '127.0.9.68', 700)
    await eventually(
      () => readFile(join(policy.dir, 'alerts', 'outbox.jsonl'), 'utf8'),
      (text) => /"op":"retry"/.test(text),
      { ms: 20_000, what: 'a failed attempt' },
    )
    const id = (await first!.alerting.list())[0]!.id
    await first!.stop()

    // The relay comes back with empty statistics; the receiver is up now.
    const r = await receiver(port)
    const second = await start({ loaded: policy, stats: newStats(), backend: null, log })
    await eventually(() => Promise.resolve(r.received.length), (n) => n >= 1, { ms: 20_000, what: 'the delivery after the restart' })
    assert.equal(r.unique().size, 1)
    assert.equal(r.received[0]!.body.data.id, id)
    assert.ok(r.received[0]!.validSignature)
    assert.equal((await second.alerting.get(id))?.status, 'firing', 'the incident itself survived the restart too')
  })
  it('raises one AUTH incident naming the account when guessing from many addresses ends in a login from a new one', async () => {
    const r = await receiver()
    const policy = await alertsPolicy(section(r.url, 'hook.secret'))
    await secretFile(policy.dir, 'hook.secret', SECRET)
    const { alerting } = await start({ loaded: policy, stats: newStats(), backend: null, log })
    const session = (address: string, user: string | null) => ({ client: { address, port: 40000, ptr: null }, clientClass: 'authenticated-user', user })
    const auth = (address: string, user: string, ok: boolean) =>
      alerting.noteSession({ time: Date.now(), stage: 'auth', outcome: ok ? 'authenticated' : 'rejected', user, session: session(address, ok ? user : null) })
    auth('127.0.2.2', 'alice', true) // her usual address
    await alerting.evaluate()
    for (let i = 0; i < 25; i++) auth(`127.0.9.${100 + (i % 5)}`, 'alice', false)
    auth('127.0.9.200', 'alice', true)
    const { value } = await eventually(() => Promise.resolve(r.received), (got) => got.length >= 1, { ms: 20_000, what: 'the AUTH incident' })
    await alerting.evaluate()
    const data = value[0]!.body.data as unknown as { rule: string; client_key: string; client_class: string; summary: string; evidence: { details: { success_from: string; failure_addresses: unknown[]; also_firing: string[] } } }
    assert.deepEqual([data.rule, data.client_key, data.client_class], ['auth_cracked', 'user:alice', 'authenticated-user'])
    assert.equal(data.summary, 'alice logged in from new address 127.0.9.200 after 25 AUTH failures')
    assert.equal(data.evidence.details.failure_addresses.length, 5)
    assert.match(data.evidence.details.also_firing[0] ?? '', /^auth_burst: 25 AUTH failures for alice from 5 addresses/)
    assert.equal(r.unique().size, 1, 'the burst of failures is part of the same incident, not a second one')
  })
  it('delivers new figures at most every update_every, and the resolution once the client was quiet for resolve_after', async () => {
    const r = await receiver()
    const policy = await alertsPolicy(`evaluate_every: 1h
lease: 2h
update_every: 10m
resolve_after: 30m
dir: ./alerts
webhooks:
  - { name: desk, url: "${r.url}", secret_file: hook.secret }
`)
    await secretFile(policy.dir, 'hook.secret', SECRET)
    const stats = newStats()
    const { alerting } = await start({ loaded: policy, stats, backend: null, log })
    const MINUTE = 60_000
    const t0 = Date.now()
    const at = async (minutes: number, spam: number) => {
      if (spam) observeSpam(stats, '127.0.9.72', spam, t0 + minutes * MINUTE)
      await alerting.evaluate(t0 + minutes * MINUTE)
    }
    await at(0, 600)
    await at(1, 100) // new figures, but within update_every of the firing
    await at(6, 700) // figures of a newer window, still within 10 minutes
    await at(11, 800) // now an update is due
    await at(12, 900) // and not again so soon
    await at(120, 0) // quiet since minute 12
    await eventually(() => Promise.resolve(r.received.length), (n) => n >= 3, { ms: 20_000, what: 'three deliveries' })
    await alerting.evaluate(t0 + 121 * MINUTE)
    // The 5m window slides: minute 11 reads all of minute 11 and part of minute 6.
    assert.deepEqual(r.received.map((x) => x.body.type), ['incident.firing', 'incident.updated', 'incident.resolved'])
    const [firing, updated, resolved] = r.received.map((x) => x.body.data as unknown as { observed: number; updates: number; status: string })
    assert.equal(firing!.observed, 600)
    assert.ok(updated!.observed >= 800, `updated with ${updated!.observed}`)
    assert.deepEqual([updated!.updates, resolved!.updates, resolved!.status], [1, 2, 'resolved'])
    assert.equal(new Set(r.received.map((x) => x.body.data.id)).size, 1, 'one incident throughout')
  })
})
