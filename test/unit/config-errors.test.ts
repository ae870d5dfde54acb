import assert from 'node:assert/strict'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { configIssues, loadPolicy, parsePolicy } from '../../src/config/load.js'
import { didYouMean, editDistance } from '../../src/config/did-you-mean.js'

const FIXTURE = fileURLToPath(new URL('../fixtures/config/mistakes.yaml', import.meta.url))

const MINIMAL = `instances:
  outbound:
    listeners:
      - { name: submission, address: 127.0.0.1, port: 2525, tls: none }
    next_hops: [127.0.0.1:2500]
`

let dir: string
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shg-config-errors-'))
})

async function problemsOf(file: string, text?: string): Promise<string[]> {
  try {
    await (text === undefined ? loadPolicy(file) : parsePolicy(file, text))
  } catch (err) {
    const issues = configIssues(err)
    if (issues) return issues.map((i) => i.replace(file, text === undefined ? 'mistakes.yaml' : 'relay.yaml'))
    throw err
  }
  assert.fail('the policy was accepted')
}

const problemsOfText = (text: string) => problemsOf(join(dir, 'relay.yaml'), text)

describe('problem reports of a policy tree', () => {
  it('words every problem of the fixture readably, at its line and column, all at once', async () => {
    assert.deepEqual(await problemsOf(FIXTURE), [
      'mistakes.yaml:3:1 hostnme: unknown key "hostnme" \u2014 did you mean "hostname"?',
      'mistakes.yaml:5:10 log.level: expected one of trace, debug, info, warn, error, fatal, silent, got "verbose"',
      'mistakes.yaml:11:15 instances.outbound.listeners[0].port: expected at most 65535, got 99999',
      'mistakes.yaml:12:14 instances.outbound.listeners[0].tls: expected one of none, starttls, implicit, got "startls" \u2014 did you mean "starttls"?',
      'mistakes.yaml:15:15 instances.outbound.listeners[1].port: expected a number, got "smtps"',
      'mistakes.yaml:17:16 instances.outbound.next_hops: expected at least 1 entry, got 0 entries',
      'mistakes.yaml:19:7 instances.outbound.limits.idle_timout: unknown key "idle_timout" \u2014 did you mean "idle_timeout"?',
      'mistakes.yaml:20:24 instances.outbound.limits.command_timeout: expected a duration such as "30s" or "5m", got true',
      'mistakes.yaml:21:21 instances.outbound.limits.message_size: expected a size such as "25MiB" or "512KiB", got "lots"',
      'mistakes.yaml:22:31 instances.outbound.limits.recipients_per_message: expected a whole number, got 2.5',
      'mistakes.yaml:25:9 instances.outbound.checks[0].mdoe: unknown key "mdoe" \u2014 did you mean "mode"?',
    ])
  })
})

describe('problems named in words', () => {
  it('says which key is missing and what it should hold, at the map that lacks it', async () => {
    assert.deepEqual(await problemsOfText(MINIMAL.replace('    next_hops: [127.0.0.1:2500]\n', '')), [
      'relay.yaml:2:3 instances.outbound.next_hops: missing: expected a list',
    ])
  })

  it('shows the form a value must have when it has another', async () => {
    const text = MINIMAL + '    penalty_box:\n      rules:\n        - { name: Rate Offender, limits: [mail.rate], hits: 5, window: 1m, duration: 1h }\n'
    assert.deepEqual(await problemsOfText(text), [
      'relay.yaml:8:19 instances.outbound.penalty_box.rules[0].name: expected text of the form /^[a-z0-9_-]+$/, got "Rate Offender"',
    ])
  })

  it('lists what a value of several forms may be, and suggests the word meant', async () => {
    const text = MINIMAL + '    checks:\n      - check: data.multiple_from\n        action: { default: rejct, trusted: { tag: x } }\n'
    assert.deepEqual(await problemsOfText(text), [
      'relay.yaml:8:28 instances.outbound.checks[0].action.default: expected reject, tempfail, ignore or a map, got "rejct" \u2014 did you mean "reject"?',
      'relay.yaml:8:44 instances.outbound.checks[0].action.trusted: tag: expected a number, got "x"',
    ])
  })

  it('suggests the check meant by a mistyped check id', async () => {
    assert.deepEqual(await problemsOfText(MINIMAL + '    checks:\n      - check: mail.rates\n'), [
      'relay.yaml:7:16 instances.outbound.checks[0].check: unknown check "mail.rates" \u2014 did you mean "mail.rate"?',
    ])
  })

  it('suggests the DNS list meant by a mistyped list name', async () => {
    const text = 'dns_lists:\n  lists:\n    zen: { zone: zen.spamhaus.org }\n' + MINIMAL + '    checks:\n      - check: mail.dnsbl\n        lists: [{ list: zne }]\n'
    assert.deepEqual(await problemsOfText(text), [
      'relay.yaml:11:25 instances.outbound.checks[0].lists[0].list: no list zne in dns_lists.lists (zen) \u2014 did you mean "zen"?',
    ])
  })
})

describe('did you mean', () => {
  it('counts a swap of two neighbouring letters as one edit', () => {
    assert.equal(editDistance('prot', 'port'), 1)
    assert.equal(editDistance('idle_timout', 'idle_timeout'), 1)
    assert.equal(editDistance('', 'abc'), 3)
  })

  it('suggests the closest allowed word, and nothing when none is close', () => {
    const keys = ['idle_timeout', 'command_timeout', 'drain_timeout', 'message_size']
    assert.equal(didYouMean('idle_timout', keys), 'idle_timeout')
    assert.equal(didYouMean('Message_Size', keys), 'message_size')
    assert.equal(didYouMean('colour', keys), undefined)
    assert.equal(didYouMean('x', []), undefined)
  })
})
