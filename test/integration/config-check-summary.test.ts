import assert from 'node:assert/strict'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { runCli } from '../helpers/process.js'

const POLICY = `instances:
  outbound:
    listeners:
      - { name: submission, address: 127.0.0.1, port: 2525, tls: none }
    next_hops: [127.0.0.1:2500]
    limits:
      message_size: 25MiB
      idle_timeout: 5m
      command_timeout: 90s
      drain_timeout: 30000ms
    penalty_box:
      default_duration: 4h
    tarpit:
      delay: 2s
    quarantine:
      dir: quarantine
      max_size: 1GiB
      max_age: 30d
`

describe('check-config summary', () => {
  it('prints sizes and durations in human units, as a policy would write them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'shg-summary-'))
    await writeFile(join(dir, 'relay.yaml'), POLICY)
    const r = await runCli(['check-config', '--config', join(dir, 'relay.yaml')])
    assert.equal(r.code, 0, r.stderr)
    const summary = r.stdout.split('\n')
    assert.ok(summary.includes('  limits: message 25 MiB, 100 recipients, 500 connections per listener; idle 5 m, command 90 s, drain 30 s'), r.stdout)
    assert.ok(summary.includes('  penalty box: tempfail, 4 h by default, 0 rules; tarpit 2 s, at most 50 at once'), r.stdout)
    assert.ok(summary.includes(`  quarantine: ${join(dir, 'quarantine')} (1 GiB, 30 d)`), r.stdout)
    assert.doesNotMatch(r.stdout, /\d{4,} (bytes|ms)\b/)
  })
})
