import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { configIssues, loadPolicy } from '../../src/config/load.js'
import { didYouMean, editDistance } from '../../src/config/did-you-mean.js'

const FIXTURE = fileURLToPath(new URL('../fixtures/config/mistakes.yaml', import.meta.url))

async function problemsOf(file: string): Promise<string[]> {
  try {
    await loadPolicy(file)
  } catch (err) {
    const issues = configIssues(err)
    if (issues) return issues.map((i) => i.replace(file, 'mistakes.yaml'))
    throw err
  }
  assert.fail('the policy was accepted')
}

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
