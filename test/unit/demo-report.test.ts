import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Prng } from '../../src/demo/prng.js'
import type { Profile } from '../../src/demo/profile.js'
import { buildReport, renderReport } from '../../src/demo/report.js'
import { Tally, reasonOf } from '../../src/demo/tally.js'
import type { ReceivedIncident } from '../../src/demo/webhook-receiver.js'

// The demo's bookkeeping, without the network: who an incident belongs to, what counts as a
// false positive, how a refusal is named, and that a seed plays the same choices.

let now = 0
const clock = () => now

function profile(name: string, legitimacy: Profile['legitimacy'], addresses: string[], extra: Partial<Profile> = {}): Profile {
  return { name, description: name, legitimacy, addresses, users: [], domains: [], innocent: legitimacy === 'legitimate' ? addresses : [], tally: new Tally(clock), run: () => Promise.resolve(), ...extra }
}

const incident = (atMs: number, id: string, clientKey: string, rule = 'refusal_ratio', type = 'incident.firing'): ReceivedIncident => ({
  atMs,
  type,
  id,
  rule,
  severity: 'warning',
  clientKey,
  summary: '',
  alsoFiring: [],
})

describe('demo report', () => {
  it('names a refusal by reply code, enhanced code and the reply URL\u2019s reason token', () => {
    const text = '5.7.23 x.example does not allow this relay (https://postmaster.example.net/refused?reason=spf-forged-sender&code=5.7.23&session=abc)'
    assert.equal(reasonOf({ accepted: false, step: 'mail', reply: { code: 550, text } }), '550 5.7.23 spf-forged-sender')
    assert.equal(reasonOf({ accepted: false, step: 'rcpt', reply: { code: 0, text: 'connection closed' } }), 'closed at rcpt')
  })

  it('gives each incident to the profile owning its address, user, sender domain or subnet, counts it false for a legitimate profile or an innocent address, and times it from the abuse\u2019s start', () => {
    now = 0
    const home = profile('home-users', 'legitimate', ['127.1.0.11', '127.1.0.12'])
    const bot = profile('bot', 'abusive', ['127.1.9.66'])
    const cracked = profile('cracked-account', 'mixed', ['127.1.5.10', '127.9.1.1'], { users: ['carol@example.net'], innocent: ['127.1.5.10'] })
    const office = profile('office', 'legitimate', ['127.2.1.10'], { domains: ['smallfirm.example'] })
    home.tally.start()
    cracked.tally.start()
    now = 10_000
    bot.tally.start(true)
    now = 20_000
    cracked.tally.abuse()
    const report = buildReport({
      seed: 1,
      minutes: 1,
      relayed: 3,
      profiles: [home, bot, cracked, office],
      events: [
        incident(14_000, 'inc-1', 'address:127.1.9.66'),
        incident(15_000, 'inc-1', 'address:127.1.9.66', 'refusal_ratio', 'incident.updated'),
        incident(30_000, 'inc-2', 'user:carol@example.net', 'auth_burst'),
        incident(31_000, 'inc-3', 'address:127.1.5.10', 'auth_cracked'),
        incident(32_000, 'inc-4', 'subnet:127.1.0.0/24'),
        incident(33_000, 'inc-5', 'sender_domain:smallfirm.example'),
        incident(34_000, 'inc-6', 'sender_domain:example.net'),
      ],
    })
    const of = (name: string) => report.profiles.find((p) => p.name === name)
    assert.deepEqual(of('bot')?.incidents.map((i) => [i.id, i.latency_s, i.false_positive]), [['inc-1', 4, false]])
    assert.deepEqual(of('cracked-account')?.incidents.map((i) => [i.id, i.latency_s, i.false_positive]), [['inc-2', 10, false], ['inc-3', 11, true]])
    assert.deepEqual(of('home-users')?.incidents.map((i) => [i.id, i.false_positive]), [['inc-4', true]])
    assert.deepEqual(of('office')?.false_positives, { refused: 0, incidents: 1 })
    assert.deepEqual(report.other_incidents.map((i) => i.id), ['inc-6'])
    const bot60 = report.targets.find((t) => t.name === 'bot: incident within 60 s')
    assert.deepEqual([bot60?.met, bot60?.detail], [true, 'refusal_ratio after 4 s'])
    assert.match(renderReport(report), /incident: auth_cracked \(warning\) for address:127\.1\.5\.10 after 11 s {2}<< false positive/)
  })

  it('plays the same choices for the same seed, and other ones for another', () => {
    const draw = (seed: number) => {
      const r = new Prng(seed)
      const f = r.fork(3)
      return [r.word(8), r.int(1, 1000), f.pick(['a', 'b', 'c', 'd']), f.exponential(1000)]
    }
    assert.deepEqual(draw(1), draw(1))
    assert.notDeepEqual(draw(1), draw(2))
  })
})
