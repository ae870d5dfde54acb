import assert from 'node:assert/strict'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { parseCredentials } from '../../src/auth/credentials.js'
import { parseHash, verifyPassword } from '../../src/auth/password.js'
import { runCli, spawnCli } from '../helpers/process.js'
import type { CliProcess } from '../helpers/process.js'
import { startRelay, testPolicy } from '../helpers/relay.js'
import { message, SmtpDialog } from '../helpers/smtp-client.js'

describe('smarthost-guard command line', () => {
  it('lists its commands and has --help for each', async () => {
    const help = await runCli(['--help'])
    assert.equal(help.code, 0)
    for (const command of ['serve', 'reload', 'check-config', 'explain-config', 'passwd', 'sink', 'penalty']) {
      assert.match(help.stdout, new RegExp(`^  ${command} `, 'm'))
      const r = await runCli([command, '--help'])
      assert.equal(r.code, 0)
      assert.match(r.stdout, new RegExp(`^Usage: smarthost-guard ${command}`))
    }
  })

  it('prints its version with --version and -V', async () => {
    for (const flag of ['--version', '-V']) {
      const r = await runCli([flag])
      assert.equal(r.code, 0, r.stderr)
      assert.equal(r.stdout, 'smarthost-guard 0.1.0\n')
    }
  })

  it('answers a usage error with one line and where to find help, exit 2', async () => {
    const unknown = await runCli(['frobnicate'])
    assert.equal(unknown.code, 2)
    assert.equal(unknown.stderr, `smarthost-guard: unknown command "frobnicate"\nTry 'smarthost-guard --help'.\n`)
    const bad = await runCli(['check-config', '--colour'])
    assert.equal(bad.code, 2)
    assert.equal(bad.stderr, `smarthost-guard check-config: Unknown option '--colour'\nTry 'smarthost-guard check-config --help'.\n`)
    const instance = await runCli(['serve', '--instance', 'sideways'])
    assert.equal(instance.code, 2)
    assert.equal(instance.stderr, `smarthost-guard serve: --instance must be outbound or inbound, got "sideways"\nTry 'smarthost-guard serve --help'.\n`)
    assert.equal(instance.stdout, '')
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

  it('passwd --sender writes the senders a user may use onto its line, which the relay reads back', async () => {
    const r = await runCli(['passwd', '--user', 'bob@shop.test', '--sender', 'bob@shop.test', '-s', '.shop.test'], 's3cret pass\n')
    assert.equal(r.code, 0, r.stderr)
    const line = r.stdout.trim()
    assert.match(line, /^bob@shop\.test:\$scrypt\$[^:]+:bob@shop\.test,\.shop\.test$/)
    // An old line without senders and the new one side by side: both are valid.
    const old = (await runCli(['passwd', '--user', 'alice'], 's3cret pass\n')).stdout.trim()
    const parsed = parseCredentials('users.passwd', `${old}\n${line}\n`)
    assert.deepEqual(parsed.issues, [])
    assert.deepEqual([...parsed.users.keys()], ['alice', 'bob@shop.test'])
    assert.deepEqual([...parsed.senders], [['bob@shop.test', ['bob@shop.test', '.shop.test']]])
    const bad = await runCli(['passwd', '--user', 'bob', '--sender', 'not an address'], 's3cret pass\n')
    assert.equal(bad.code, 2)
    assert.equal(bad.stderr, `smarthost-guard passwd: --sender "not an address" is not an address, @domain or .domain\nTry 'smarthost-guard passwd --help'.\n`)
    const lone = await runCli(['passwd', '--sender', '@shop.test'], 's3cret pass\n')
    assert.equal(lone.code, 2)
    assert.match(lone.stderr, /--sender needs --user/)
  })

  it('reports a credentials line whose senders field holds other than addresses, @domain or .domain, with line and column', () => {
    const hash = '$scrypt$ln=14,r=8,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g'
    const parsed = parseCredentials('users.passwd', `carol:${hash}:carol@home.test, home.test\n`)
    assert.deepEqual(parsed.issues, [`users.passwd:1:${'carol:'.length + hash.length + 2} carol: not a sender address, @domain or .domain: "home.test"`])
  })

  it('passwd refuses a user name the credentials file cannot hold, with one line and exit 2', async () => {
    for (const [name, what] of [['bad:name', '":"'], ['two words', 'white space'], ['bell\x07', 'a control character']] as const) {
      const r = await runCli(['passwd', '--user', name], 's3cret pass\n')
      assert.equal(r.code, 2, name)
      assert.equal(r.stdout, '')
      assert.equal(r.stderr, `smarthost-guard passwd: user name ${JSON.stringify(name)} has ${what}, which the credentials file cannot hold\nTry 'smarthost-guard passwd --help'.\n`)
    }
    const comment = await runCli(['passwd', '--user', '#root'], 's3cret pass\n')
    assert.equal(comment.code, 2)
    assert.match(comment.stderr, /starts with "#"/)
    const help = await runCli(['passwd', '--help'])
    assert.match(help.stdout, /when standard input is not a terminal \(a pipe, a file\) its first line is the password/)
  })

  it('explain-config documents every key with its default', async () => {
    const r = await runCli(['explain-config'])
    assert.equal(r.code, 0)
    assert.match(r.stdout, /^instances\.<outbound\|inbound>\.limits\.message_size \(size = "25MiB"\): /m)
    assert.match(r.stdout, /^rcpt\.relay_auth \(core\): /m)
  })
})

describe('smarthost-guard sink', () => {
  /** Starts a sink on a free port and waits until it listens. */
  async function sinkWith(args: string[]): Promise<{ sink: CliProcess; port: number }> {
    const sink = spawnCli(['sink', '--port', '0', ...args])
    const [, port] = await sink.waitForOutput(/^sink listening on 127\.0\.0\.1:(\d+)$/m)
    return { sink, port: Number(port) }
  }

  async function sendTo(port: number, subject: string): Promise<void> {
    const c = await SmtpDialog.open({ port })
    await c.greeting
    await c.cmd('EHLO laptop.test')
    const r = await c.send('me@laptop.test', ['anyone@remote.test'], message(subject, 'the body line\r\n'))
    await c.quit()
    assert.equal(r.end?.code, 250, r.end?.line)
  }

  it('prints a summary line and the header block with the relay\u2019s Received: on top', async (t) => {
    const { sink, port } = await sinkWith([])
    const relay = await startRelay(testPolicy([port]), { instances: ['outbound'] })
    t.after(async () => {
      await relay.close()
      await sink.stop()
    })
    await sendTo(relay.port('submission'), 'through the relay')
    const [printed] = await sink.waitForOutput(/^sink \S+: from=<me@laptop\.test>[^\n]*\n(?:.+\n)+\n/m)
    const lines = printed.split('\n')
    assert.match(lines[0]!, /^sink \S+: from=<me@laptop\.test> to=<anyone@remote\.test> size=\d+ subject="through the relay"$/)
    assert.match(lines[1]!, /^Received: from laptop\.test \(.*\[127\.0\.0\.1\]\)$/)
    assert.ok(lines.some((l) => l === 'Subject: through the relay'), printed)
    assert.ok(!sink.stdout().includes('the body line'), 'the body is not printed')
  })

  it('prints the summary line only with --quiet, and the whole message with --body', async (t) => {
    const quiet = await sinkWith(['--quiet'])
    const body = await sinkWith(['--body'])
    t.after(async () => {
      await quiet.sink.stop()
      await body.sink.stop()
    })
    await sendTo(quiet.port, 'quietly')
    await sendTo(body.port, 'with its body')
    await quiet.sink.waitForOutput(/^sink \S+: .* subject="quietly"\n/m)
    assert.doesNotMatch(quiet.sink.stdout(), /^Subject:/m)
    await body.sink.waitForOutput(/^the body line$/m)
    assert.match(body.sink.stdout(), /^sink \S+: .* subject="with its body"\n(?:.+\n)*Subject: with its body\n(?:.*\n)*the body line\n/m)
  })
})
