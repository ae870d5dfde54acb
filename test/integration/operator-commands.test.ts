import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { appendFile, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { freePort } from '../bench/ports.js'
import { copyDefaultTree, runCli, spawnRelay } from '../helpers/process.js'
import type { DefaultTreeCopy } from '../helpers/process.js'
import type { PolicyTree } from '../helpers/relay.js'
import { startRelay, testPolicy } from '../helpers/relay.js'
import { authPlain, SmtpDialog } from '../helpers/smtp-client.js'

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/

/** The embedded default tree, copied to a temporary folder, with ports no other test uses. */
async function defaultTree(): Promise<DefaultTreeCopy> {
  const [admin, inboundAdmin] = [await freePort(), await freePort()]
  return copyDefaultTree((tree: PolicyTree) => {
    tree.admin.port = admin
    tree.instances.inbound.admin.port = inboundAdmin
    const instances: PolicyTree[] = [tree.instances.outbound, tree.instances.inbound]
    for (const inst of instances) for (const l of inst.listeners) l.port = 0
    // The spawned relay has no deny-dns preload: keep its lookups on loopback.
    tree.dns = { servers: ['127.0.0.1:1'], timeout: '200ms', tries: 1 }
  })
}

async function authenticate(port: number, password: string): Promise<string> {
  const c = await SmtpDialog.open({ port })
  await c.greeting
  await c.cmd('EHLO roadwarrior.test')
  await c.starttls('roadwarrior.test')
  const r = await c.cmd(authPlain('alice', password))
  await c.quit()
  return r.line
}

describe('smarthost-guard reload and the pid file', () => {
  let tree: DefaultTreeCopy
  before(async () => (tree = await defaultTree()))
  after(() => tree.remove())

  it('serve writes its pid file (0644), reload signals that process, a clean exit removes the file; reload and penalty say in one line why they cannot act without a relay', async () => {
    const early = await runCli(['penalty', 'list', '--config', tree.file])
    assert.equal(early.code, 1)
    assert.equal(early.stderr, `smarthost-guard penalty: no token file ${tree.varPath('admin.token')} yet: the relay creates it at its first start (smarthost-guard serve)\n`)
    const relay = await spawnRelay(['--config', tree.file])
    const pidFile = tree.varPath('smarthost-guard.pid')
    try {
      await relay.waitForLog((l) => l.msg === 'pid file written')
      assert.equal(await readFile(pidFile, 'utf8'), `${relay.child.pid}\n`)
      assert.equal((await stat(pidFile)).mode & 0o777, 0o644)
      const r = await runCli(['reload', '--config', tree.file])
      assert.equal(r.code, 0, r.stderr)
      assert.equal(r.stdout, `sent SIGHUP to the relay, pid ${relay.child.pid} (${pidFile}): it reloads ${tree.file}\n`)
      await relay.waitForLog((l) => l.msg === 'policy reloaded')
    } finally {
      assert.equal(await relay.stop(), 0)
    }
    await assert.rejects(stat(pidFile), { code: 'ENOENT' })
    const none = await runCli(['reload', '--config', tree.file])
    assert.equal(none.code, 1)
    assert.equal(none.stderr, `smarthost-guard reload: no relay runs: no pid file ${pidFile} (serve writes it at start)\n`)
    const down = await runCli(['penalty', 'list', '--config', tree.file])
    assert.equal(down.code, 1)
    assert.match(down.stderr, /^smarthost-guard penalty: cannot reach the relay's admin API at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\): is the relay running\?\n$/)
  })

  it('reports a stale pid file, whose process is gone or is not the relay, and signals nothing', async () => {
    const pidFile = tree.varPath('smarthost-guard.pid')
    const gone = spawn(process.execPath, ['-e', ''])
    await once(gone, 'exit')
    await writeFile(pidFile, `${gone.pid}\n`)
    const r = await runCli(['reload', '--config', tree.file])
    assert.equal(r.code, 1)
    assert.equal(r.stderr, `smarthost-guard reload: stale pid file ${pidFile}: no process ${gone.pid} runs (the relay stopped without removing it); start the relay, or remove the file\n`)
    // This test runner runs, but it is not `smarthost-guard serve`: it must not get a SIGHUP.
    await writeFile(pidFile, `${process.pid}\n`)
    const other = await runCli(['reload', '--config', tree.file])
    assert.equal(other.code, 1)
    assert.match(other.stderr, new RegExp(`^smarthost-guard reload: stale pid file .*: process ${process.pid} is not smarthost-guard serve; `))
    const invalid = await runCli(['reload', '--config', tree.file, '--instance', 'sideways'])
    assert.equal(invalid.code, 2)
  })
})

describe('the default tree, with no set-up', () => {
  let tree: DefaultTreeCopy
  let relay: Awaited<ReturnType<typeof spawnRelay>>
  before(async () => {
    tree = await defaultTree()
    relay = await spawnRelay(['--config', tree.file, '--instance', 'outbound'])
    await relay.waitForLog((l) => l.msg === 'pid file written')
  })
  after(async () => {
    await relay.stop()
    await tree.remove()
  })

  it('creates the admin token file (0600) at first start, and penalty list|add work with no token or instance given', async () => {
    assert.equal((await stat(tree.varPath('admin.token'))).mode & 0o777, 0o600)
    const empty = await runCli(['penalty', 'list', '--config', tree.file])
    assert.equal(empty.code, 0, empty.stderr)
    assert.equal(empty.stdout, 'the penalty box is empty\n')
    const add = await runCli(['penalty', 'add', '--config', tree.file, '--address', '127.0.4.4', '--reason', 'spam run', '--duration', '2h'])
    assert.equal(add.code, 0, add.stderr)
    const list = await runCli(['penalty', 'list', '--json', '--config', tree.file])
    assert.equal(list.code, 0, list.stderr)
    const [entry] = JSON.parse(list.stdout) as { value: string; when: string; until: string }[]
    assert.equal(entry?.value, '127.0.4.4')
    assert.match(entry.when, ISO)
    assert.match(entry.until, ISO)
    assert.equal(Date.parse(entry.until) - Date.parse(entry.when), 2 * 3600_000)
  })

  it('starts without the users file, with a warning; users added with passwd can log in after reload', async () => {
    const users = tree.varPath('users.passwd')
    const warning = await relay.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('relay.credentials '))
    assert.equal(warning.level, 'warn')
    assert.match(String(warning.msg), /does not exist: no SMTP AUTH users yet \(add one with: smarthost-guard passwd --user NAME >> /)
    const port = relay.port('submission')
    assert.match(await authenticate(port, 'a good password'), /^535 /)
    const line = await runCli(['passwd', '--user', 'alice'], 'a good password\n')
    assert.equal(line.code, 0, line.stderr)
    await appendFile(users, line.stdout)
    // Without --instance, reload finds the relay serving only the outbound instance.
    const r = await runCli(['reload', '--config', tree.file])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /smarthost-guard-outbound\.pid\): it reloads /)
    await relay.waitForLog((l) => l.msg === 'policy reloaded')
    assert.equal(await authenticate(port, 'a good password'), '235 2.7.0 Authentication successful')
  })
})

describe('an admin token file the relay cannot create', () => {
  it('keeps the relay serving with the admin API off, and says how to make the file', async (t) => {
    // As /etc/smarthost-guard that the service user may not write, a folder that cannot be made
    // even by root (the tests may run as root): a link to a place under a missing folder.
    const dir = await mkdtemp(join(tmpdir(), 'shg-token-'))
    await symlink(join(dir, 'missing', 'place'), join(dir, 'not-a-folder'))
    const tree = testPolicy([1], (p) => (p.admin.token_file = join(dir, 'not-a-folder', 'admin.token')))
    const relay = await startRelay(tree, { instances: ['outbound'] })
    t.after(async () => {
      await relay.close()
      await rm(dir, { recursive: true })
    })
    const warning = relay.logs.lines.find((l) => String(l.msg).startsWith('cannot create admin.token_file '))
    assert.ok(warning, 'a warning')
    assert.equal(warning.level, 'warn')
    assert.match(String(warning.msg), /the admin API refuses every call until it exists \(make it with: openssl rand -hex 32 > \S+\/not-a-folder\/admin\.token; then smarthost-guard reload\)$/)
    assert.equal((await fetch(relay.adminUrl('/api/penalty'))).status, 403)
    assert.equal((await fetch(relay.adminUrl('/readyz'))).status, 200)
  })
})
