import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import type { DemoReport, ProfileReport } from '../../src/demo/report.js'
import { runCli } from '../helpers/process.js'

// The demo, shortened to one minute, through the CLI as an operator runs it: the relay (a child
// process) on the shipped demo policy, the demo's DNS server, sink and webhook receiver, and
// every profile at once. What holds at that length is asserted; the 4-minute figures are in
// docs/demo.md.

const LEGITIMATE = ['home-users', 'office', 'newsletter']

describe('smarthost-guard demo --minutes 1 on the shipped demo policy', () => {
  let report: DemoReport
  const profile = (name: string): ProfileReport => {
    const p = report.profiles.find((x) => x.name === name)
    assert.ok(p, `profile ${name} in the report`)
    return p
  }

  before(async () => {
    const run = await runCli(['demo', '--minutes', '1', '--seed', '1', '--json'])
    assert.equal(run.code, 0, run.stderr)
    report = JSON.parse(run.stdout) as DemoReport
  })

  it('reports every profile with attempted, accepted, refusals by reason, first refusal, incidents and false positives, then the targets and one efficacy line', () => {
    assert.deepEqual(
      report.profiles.map((p) => p.name),
      ['home-users', 'office', 'newsletter', 'exchange', 'bot', 'cracked-account'],
    )
    assert.equal(report.seed, 1)
    assert.equal(report.minutes, 1)
    for (const p of report.profiles) {
      assert.ok(p.attempted > 0, `${p.name} attempted messages`)
      const refused = Object.values(p.refused).reduce((a, b) => a + b, 0)
      assert.ok(p.accepted + refused >= p.attempted, `${p.name}: every attempt was accepted or refused`)
      for (const reason of Object.keys(p.refused)) assert.match(reason, /^(\d{3} [245]\.\d+\.\d+ \S+|closed at \w+)/, `${p.name}: reason ${reason}`)
      assert.equal(typeof p.false_positives.refused, 'number')
      assert.ok(Array.isArray(p.incidents))
    }
    assert.equal(report.targets.length, 7)
    assert.match(report.efficacy, /^efficacy: \d\/7 targets met/)
    assert.ok(report.relayed_to_sink > 0)
  })

  it('refuses the bot within 30 s of its start, accepts at most 50 of its messages and raises an incident for it within 60 s', () => {
    const bot = profile('bot')
    assert.ok(bot.first_refusal, 'the bot was refused')
    assert.ok(bot.first_refusal.after_s <= 30, `first refusal after ${bot.first_refusal.after_s} s`)
    assert.ok(bot.accepted <= 50, `${bot.accepted} accepted`)
    const incident = bot.incidents.find((i) => i.client_key === 'address:127.1.9.66')
    assert.ok(incident, `an incident for the bot's address: ${JSON.stringify(report.profiles.flatMap((p) => p.incidents))}`)
    assert.ok(incident.latency_s <= 60, `after ${incident.latency_s} s`)
  })

  it('refuses no message of the home users, the office and the newsletter and raises no incident for them', () => {
    for (const name of LEGITIMATE) {
      const p = profile(name)
      assert.deepEqual(p.refused, {}, `${name} refusals`)
      assert.deepEqual(p.false_positives, { refused: 0, incidents: 0 }, `${name} false positives`)
    }
  })
})
