import assert from 'node:assert/strict'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { parseHash, verifyPassword } from '../../src/auth/password.js'
import { runCli } from '../helpers/process.js'

describe('smarthost-guard command line', () => {
  it('lists its commands and has --help for each', async () => {
    const help = await runCli(['--help'])
    assert.equal(help.code, 0)
    for (const command of ['serve', 'check-config', 'explain-config', 'passwd', 'sink', 'penalty']) {
      assert.match(help.stdout, new RegExp(`^  ${command} `, 'm'))
      const r = await runCli([command, '--help'])
      assert.equal(r.code, 0)
      assert.match(r.stdout, new RegExp(`^Usage: smarthost-guard ${command}`))
    }
  })

  it('exits 2 with the usage on an unknown command or option', async () => {
    const unknown = await runCli(['frobnicate'])
    assert.equal(unknown.code, 2)
    assert.match(unknown.stderr, /unknown command "frobnicate"/)
    const bad = await runCli(['check-config', '--colour'])
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /Unknown option '--colour'/)
    const instance = await runCli(['serve', '--instance', 'sideways'])
    assert.equal(instance.code, 2)
    assert.match(instance.stderr, /--instance must be outbound or inbound/)
  })

  it('check-config summarizes the embedded default policy and exits 0', async () => {
    const r = await runCli(['check-config'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /policies\/relay\.yaml: OK/)
    assert.match(r.stdout, /listeners: submission 127\.0\.0\.1:2525 \(starttls, auth\), submissions 127\.0\.0\.1:2465 \(implicit, auth\)/)
    assert.match(r.stdout, /listeners: mx 127\.0\.0\.1:2526 \(starttls\)/)
    assert.match(r.stdout, /rcpt\[rcpt\.relay_auth\* rcpt\.local_recipient\* rcpt\.recipient_count\*\]/)
  })

  it('check-config prints every problem as file:line:col key and exits 1', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'shg-cli-'))
    const file = join(dir, 'bad.yaml')
    await writeFile(file, 'instances:\n  outbound:\n    listeners: []\n    next_hops: [nowhere]\n    colour: red\n')
    const r = await runCli(['check-config', '--config', file])
    assert.equal(r.code, 1)
    assert.deepEqual(r.stderr.trim().split('\n'), [
      `${file}:3:16 instances.outbound.listeners: expected at least 1 entry, got 0 entries`,
      `${file}:4:17 instances.outbound.next_hops[0]: expected host:port, e.g. 127.0.0.1:2500 or [::1]:25, got "nowhere"`,
      `${file}:5:5 instances.outbound.colour: unknown key "colour"`,
      '3 problems found',
    ])
    const missing = await runCli(['check-config', '--config', join(dir, 'absent.yaml')])
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /cannot read configuration file .*absent\.yaml: ENOENT/)
  })

  it('passwd prints a scrypt hash that verifies the password it read', async () => {
    const r = await runCli(['passwd', '--user', 'bob'], 's3cret pass\n')
    assert.equal(r.code, 0, r.stderr)
    const line = r.stdout.trim()
    assert.match(line, /^bob:\$scrypt\$ln=14,r=8,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/)
    const hash = parseHash(line.slice(4))
    assert.ok(hash)
    assert.equal(await verifyPassword('s3cret pass', hash), true)
    assert.equal(await verifyPassword('s3cret pas', hash), false)
  })

  it('explain-config documents every key with its default', async () => {
    const r = await runCli(['explain-config'])
    assert.equal(r.code, 0)
    assert.match(r.stdout, /^instances\.<outbound\|inbound>\.limits\.message_size \(size = "25MiB"\): /m)
    assert.match(r.stdout, /^rcpt\.relay_auth \(core\): /m)
  })
})
