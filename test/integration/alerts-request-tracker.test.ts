import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { pino } from 'pino'
import { RequestTrackerSender } from '../../src/alerts/rt-sender.js'
import { startAlerting } from '../../src/alerts/start.js'
import type { RunningAlerting } from '../../src/alerts/start.js'
import type { Delivery } from '../../src/alerts/store.js'
import { MemoryStatsStore } from '../../src/stats/memory-store.js'
import { alertsPolicy, observeSpam, secretFile } from '../helpers/alerts.js'
import { eventually } from '../helpers/eventually.js'
import { startRequestTracker } from '../helpers/request-tracker.js'
import type { RequestTracker } from '../helpers/request-tracker.js'

const log = pino({ level: 'silent' })
const MINUTE = 60_000

interface Page<T> {
  items: T[]
  total: number
}

describe('incidents as Request Tracker tickets (RT 5 REST 2, standalone on loopback)', () => {
  let rt: RequestTracker
  let running: RunningAlerting | null = null
  before(async () => {
    rt = await startRequestTracker()
  })
  after(async () => {
    await running?.stop()
    await rt?.close()
  })

  const ticketsOf = async (incidentId: string) => {
    const q = new URLSearchParams({ query: `Subject LIKE '${incidentId}'`, fields: 'Subject,Status' })
    return (await rt.get<Page<{ id: string; Subject: string; Status: string }>>(`/tickets?${q.toString()}`)).items
  }
  const historyOf = async (ticket: string) => (await rt.get<Page<{ Type: string }>>(`/ticket/${ticket}/history?fields=Type&per_page=100`)).items.map((t) => t.Type)

  it('opens exactly one ticket per incident, adds updates as comments and resolves it when the incident resolves', async () => {
    // Evaluations are driven by the test (evaluate_every is long), so it can move the clock.
    const policy = await alertsPolicy(`evaluate_every: 1h
lease: 2h
update_every: 5m
resolve_after: 30m
retry: { min: 100ms, max: 1s }
dir: ./alerts
request_tracker: { url: "${rt.url}", queue: General, token_file: rt.token }
`)
    await secretFile(policy.dir, 'rt.token', rt.token)
    const stats = new MemoryStatsStore({ maxClients: 1000, maxBaselines: 100, snapshotFile: null })
    const started = await startAlerting({ loaded: policy, stats, backend: null, log })
    assert.ok(started)
    running = started
    const { alerting } = started
    const t0 = Date.now()
    observeSpam(stats, '127.0.9.70', 600, t0)
    await alerting.evaluate(t0)
    const [incident] = await alerting.list()
    assert.ok(incident)
    const created = await eventually(() => ticketsOf(incident.id), (t) => t.length > 0, { ms: 30_000, what: 'the ticket' })
    assert.equal(created.value.length, 1)
    const ticket = created.value[0]!
    assert.match(ticket.Subject, new RegExp(`^\\[${incident.id}\\] critical message_burst: 600 messages in 5m`))

    // More spam: an update, as a comment on the same ticket.
    observeSpam(stats, '127.0.9.70', 700, t0 + 6 * MINUTE)
    await alerting.evaluate(t0 + 6 * MINUTE)
    await eventually(() => historyOf(ticket.id), (h) => h.includes('Comment'), { ms: 30_000, what: 'the update comment' })

    // Quiet for longer than resolve_after: resolved, and so is the ticket.
    await alerting.evaluate(t0 + 3 * 60 * MINUTE)
    assert.equal((await alerting.get(incident.id))?.status, 'resolved')
    const done = await eventually(() => ticketsOf(incident.id), (t) => t[0]?.Status === 'resolved', { ms: 30_000, what: 'the resolved ticket' })
    assert.equal(done.value.length, 1, 'still one ticket')
    const history = await historyOf(ticket.id)
    assert.equal(history.filter((t) => t === 'Create').length, 1)
    assert.equal(history.filter((t) => t === 'Comment').length, 2, 'the update and the resolution')
  })

  it('finds the ticket made by an attempt whose answer was lost instead of opening a second one', async () => {
    const sender = new RequestTrackerSender({ url: rt.url, queue: 'General', token_file: 'unused', timeout: 15_000 }, rt.token)
    const incidentId = 'inc-0123456789abcdef0123'
    const incident = {
      id: incidentId,
      rule: 'auth_cracked',
      kind: 'auth_cracked',
      severity: 'critical',
      client_key: 'user:alice',
      client_class: 'authenticated-user',
      status: 'firing',
      window: '3600s',
      observed: 12,
      baseline: null,
      threshold: 10,
      summary: 'alice logged in from new address 127.0.9.80 after 12 AUTH failures',
      evidence: { counts: {}, refused_by: {}, top_recipient_domains: [], samples: [], refusals: [] },
      first_seen: new Date().toISOString(),
      last_seen: new Date().toISOString(),
      updated_at: new Date().toISOString(),
      resolved_at: null,
      updates: 0,
      acked: null,
      action: { penalty_box_until: null, customer_notified: false },
      next_step: 'reset the password',
    } satisfies Delivery['incident']
    const d: Delivery = { id: 'evt_lost', sender: 'request_tracker', incident_id: incidentId, event: 'firing', incident, attempts: 0, next_at: 0, created_at: 0 }
    await sender.send(d)
    await sender.send({ ...d, attempts: 1 }) // the retry of an attempt RT carried out
    assert.equal((await ticketsOf(incidentId)).length, 1)
  })
})
