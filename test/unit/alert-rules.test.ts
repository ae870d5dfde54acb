import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { AuthTrail } from '../../src/alerts/auth-trail.js'
import { backoffMs } from '../../src/alerts/backoff.js'
import { incidentId } from '../../src/alerts/incident.js'
import { evaluateRule } from '../../src/alerts/rules.js'
import type { StatsRule } from '../../src/alerts/rules.js'
import { defaultRules, ruleSchema } from '../../src/alerts/schema.js'
import { MemoryStatsStore } from '../../src/stats/memory-store.js'
import type { ClientKey } from '../../src/stats/store.js'

const HOUR = 3_600_000
const store = () => new MemoryStatsStore({ maxClients: 1000, maxBaselines: 100, snapshotFile: null })
const rule = (name: string) => defaultRules().find((r) => r.name === name) as StatsRule

async function fires(s: MemoryStatsStore, key: ClientKey, r: StatsRule, now = Date.now()) {
  const view = await s.show(key, now)
  assert.ok(view)
  return evaluateRule(r, view, 'default')
}

describe('anomaly rules', () => {
  it('spf_relay_not_authorized: a sender domain with such messages fires, naming the clients that sent them; one without does not', async () => {
    const s = store()
    const now = Date.now()
    const r = ruleSchema.parse({ name: 'spf_include', kind: 'spf_relay_not_authorized' }) as StatsRule
    for (let i = 0; i < 2; i++) s.observe(['sender_domain:office.example'], { at: now, counts: { accepted: 1, spf_relay_not_authorized: 1 }, spfRelayClient: 'address:198.51.100.7' })
    s.observe(['sender_domain:fine.example'], { at: now, counts: { accepted: 1 } })
    const f = await fires(s, 'sender_domain:office.example', r, now)
    assert.equal(f?.rule.severity, 'info')
    assert.equal(f?.summary, '2 messages in 24h whose SPF passes for the client but fails for this relay (sent by address:198.51.100.7 2)')
    assert.deepEqual(f?.evidence.details, { clients: [{ client: 'address:198.51.100.7', count: 2 }] })
    assert.equal(await fires(s, 'sender_domain:fine.example', r, now), null)
  })

  it('bounce: a customer relaying null-sender reports to many domains fires; an MTA bouncing a little does not', async () => {
    const s = store()
    const now = Date.now()
    for (let i = 0; i < 60; i++) s.observe(['address:127.0.3.3'], { at: now, counts: { transactions: 1, accepted: 1, recipients: 1, null_sender: 1 }, recipientDomains: [`forged${i}.example`] })
    for (let i = 0; i < 40; i++) s.observe(['address:127.0.3.3'], { at: now, counts: { transactions: 1, accepted: 1, recipients: 1 }, recipientDomains: ['partner.example'] })
    for (let i = 0; i < 200; i++) {
      const bounce = i % 100 === 0
      s.observe(['address:127.0.3.4'], { at: now, counts: { transactions: 1, accepted: 1, recipients: 1, ...(bounce ? { null_sender: 1 } : {}) }, recipientDomains: [`d${i % 30}.example`] })
    }
    const f = await fires(s, 'address:127.0.3.3', rule('backscatter'), now)
    assert.equal(f?.observed, 60)
    // Above 32 distinct domains the statistics estimate (a sketch within a few per cent).
    assert.match(f.summary, /^60 null-sender messages \(60% of transactions\) to (59|6\d) recipient domains in 15m$/)
    assert.equal(await fires(s, 'address:127.0.3.4', rule('backscatter'), now), null)
  })

  it('refusal_ratio: counts content, DNSBL, SPF and header refusals, not rate limits, with the reasons in the evidence', async () => {
    const s = store()
    const now = Date.now()
    const refuse = (key: ClientKey, reason: 'content' | 'limit', n: number) => {
      for (let i = 0; i < n; i++) {
        s.observe([key], { at: now, counts: { transactions: 1, refused: 1 }, refusal: { reason, check: reason === 'content' ? 'data.content' : 'rcpt.rate', reply: '550 5.7.1 no' } })
      }
    }
    const ok = (key: ClientKey, n: number) => {
      for (let i = 0; i < n; i++) s.observe([key], { at: now, counts: { transactions: 1, accepted: 1 } })
    }
    refuse('address:127.0.4.1', 'content', 15)
    ok('address:127.0.4.1', 15)
    refuse('address:127.0.4.2', 'limit', 15)
    ok('address:127.0.4.2', 15)
    const f = await fires(s, 'address:127.0.4.1', rule('refusal_ratio'), now)
    assert.deepEqual(f?.evidence.refused_by, { content: 15 })
    assert.equal(f.evidence.refusals[0]?.check, 'data.content')
    assert.equal(await fires(s, 'address:127.0.4.2', rule('refusal_ratio'), now), null)
  })

  it('rise: fires against the client\u2019s own baseline (ratio and z) and for sudden volume without history, not for its usual volume', async () => {
    const s = store()
    const now = Date.now()
    const hourStart = now - (now % HOUR)
    for (let h = 30; h >= 1; h--) {
      for (let i = 0; i < 10; i++) {
        s.observe(['address:127.0.6.1'], { at: hourStart - h * HOUR + 1000, counts: { transactions: 1, accepted: 1 } })
        s.observe(['address:127.0.6.2'], { at: hourStart - h * HOUR + 1000, counts: { transactions: 1, accepted: 1 } })
      }
    }
    for (let i = 0; i < 200; i++) s.observe(['address:127.0.6.1'], { at: now, counts: { transactions: 1, accepted: 1 } })
    for (let i = 0; i < 10; i++) s.observe(['address:127.0.6.2'], { at: now, counts: { transactions: 1, accepted: 1 } })
    for (let i = 0; i < 400; i++) s.observe(['address:127.0.6.3'], { at: now, counts: { transactions: 1, accepted: 1 } })
    const risen = await fires(s, 'address:127.0.6.1', rule('volume_rise'), now)
    assert.ok(risen && risen.baseline !== null && risen.baseline <= 11, `baseline ${risen?.baseline}`)
    assert.match(risen.summary, /messages in the last hour, [\d.]+× the usual/)
    assert.equal(await fires(s, 'address:127.0.6.2', rule('volume_rise'), now), null)
    const sudden = await fires(s, 'address:127.0.6.3', rule('volume_rise'), now)
    assert.match(sudden?.summary ?? '', /^400 messages in the last hour from a client with no history/)
  })

  it('domain_fanout: many distinct recipient domains fire; volume to the same domains does not', async () => {
    const s = store()
    const now = Date.now()
    for (let i = 0; i < 150; i++) s.observe(['user:list-bot'], { at: now, counts: { transactions: 1, accepted: 1, recipients: 1 }, recipientDomains: [`d${i}.example`] })
    for (let i = 0; i < 150; i++) s.observe(['user:sales'], { at: now, counts: { transactions: 1, accepted: 1, recipients: 1 }, recipientDomains: ['customer.example'] })
    const r = ruleSchema.parse({ name: 'fanout', kind: 'domain_fanout', dimension: 'user' }) as StatsRule
    const observed = (await fires(s, 'user:list-bot', r, now))?.observed ?? 0
    assert.ok(Math.abs(observed - 150) <= 8, `about 150 domains, estimated ${observed}`)
    assert.equal(await fires(s, 'user:sales', r, now), null)
  })

  it('auth_cracked: failures, then a success from a new address names the account; a success from a known address does not', () => {
    const trail = new AuthTrail()
    const t = Date.now() - 30 * 60_000
    const rulesOf = () => ({ rules: defaultRules(), clientClass: 'authenticated-user' })
    trail.record({ user: 'alice', address: '127.0.2.2', ok: true, at: t })
    trail.record({ user: 'bob', address: '127.0.2.3', ok: true, at: t })
    assert.deepEqual(trail.evaluate(rulesOf, t), [], 'first logins are learned, not alerted')
    for (let i = 0; i < 12; i++) {
      trail.record({ user: 'alice', address: `127.0.9.${i}`, ok: false, at: t + 1000 + i })
      trail.record({ user: 'bob', address: `127.0.9.${i}`, ok: false, at: t + 1000 + i })
    }
    trail.record({ user: 'alice', address: '127.0.9.99', ok: true, at: t + 5000 })
    trail.record({ user: 'bob', address: '127.0.2.3', ok: true, at: t + 5000 })
    const found = trail.evaluate(rulesOf, t + 6000)
    assert.deepEqual(found.map((f) => [f.rule.name, f.key]), [['auth_cracked', 'user:alice']])
    assert.match(found[0]!.summary, /^alice logged in from new address 127\.0\.9\.99 after 12 AUTH failures$/)
    assert.equal(found[0]!.evidence.details?.success_from, '127.0.9.99')
  })

  it('auth_cracked_sending: a new address after failures is a suspect while watched, once, with its failures; a known address and an address after too few failures are not', () => {
    const trail = new AuthTrail()
    const t = Date.now() - 10 * 60_000
    const sending = ruleSchema.parse({ name: 'cracked_sending', kind: 'auth_cracked_sending', failures: 5, watch: '30m' })
    const rulesOf = () => ({ rules: [sending], clientClass: 'default' })
    trail.record({ user: 'alice', address: '127.0.2.2', ok: true, at: t, known: true })
    for (let i = 0; i < 6; i++) trail.record({ user: 'alice', address: `127.0.9.${i % 3}`, ok: false, at: t + 1000 + i })
    for (let i = 0; i < 3; i++) trail.record({ user: 'bob', address: '127.0.9.1', ok: false, at: t + 1000 + i })
    trail.record({ user: 'alice', address: '127.0.6.6', ok: true, at: t + 5000, known: false })
    trail.record({ user: 'alice', address: '127.0.6.6', ok: true, at: t + 5500, known: false })
    trail.record({ user: 'alice', address: '127.0.2.2', ok: true, at: t + 6000, known: true })
    trail.record({ user: 'bob', address: '127.0.6.7', ok: true, at: t + 5000, known: false })
    assert.deepEqual(trail.evaluate(rulesOf, t + 7000), [])
    const suspects = trail.suspects(rulesOf, t + 7000)
    assert.deepEqual(
      suspects.map((s) => [s.user, s.login.address, s.failures.length, s.known]),
      [['alice', '127.0.6.6', 6, ['127.0.2.2']]],
    )
    assert.deepEqual(trail.suspects(rulesOf, t + 31 * 60_000), [], 'no longer watched after `watch`')
  })

  it('auth_burst: 20 failures against one account within 5 minutes', () => {
    const trail = new AuthTrail()
    const now = Date.now()
    for (let i = 0; i < 25; i++) trail.record({ user: 'carol', address: `127.0.8.${i % 5}`, ok: false, at: now - 1000 })
    for (let i = 0; i < 5; i++) trail.record({ user: 'dave', address: '127.0.8.1', ok: false, at: now - 1000 })
    const found = trail.evaluate(() => ({ rules: defaultRules(), clientClass: 'default' }), now)
    assert.deepEqual(found.map((f) => [f.rule.name, f.key, f.observed]), [['auth_burst', 'user:carol', 25]])
  })
})

describe('incident ids and retries', () => {
  it('derives the same incident id for the same client key, rule and start on every node', () => {
    assert.equal(incidentId('address:192.0.2.7', 'message_burst', 1), incidentId('address:192.0.2.7', 'message_burst', 1))
    assert.notEqual(incidentId('address:192.0.2.7', 'message_burst', 1), incidentId('address:192.0.2.8', 'message_burst', 1))
    assert.match(incidentId('user:alice', 'auth_cracked', 2), /^inc-[0-9a-f]{20}$/)
  })

  it('doubles the wait between retries up to the maximum, with at most a fifth of spread', () => {
    assert.deepEqual([1, 2, 3, 4].map((n) => backoffMs(n, 1000, 300_000, () => 0)), [1000, 2000, 4000, 8000])
    assert.equal(backoffMs(40, 1000, 300_000, () => 0), 300_000)
    assert.equal(backoffMs(1, 1000, 300_000, () => 0.999), 1200)
  })
})
