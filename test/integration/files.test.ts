import assert from 'node:assert/strict'
import { chmod, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { stringify } from 'yaml'
import { hashPassword } from '../../src/auth/password.js'
import { runCli, spawnRelay } from '../helpers/process.js'
import type { RelayProcess } from '../helpers/process.js'
import * as samples from '../helpers/samples.js'
import { quarantineIndex, RULES_DIR } from '../helpers/scan.js'
import { startSink } from '../helpers/sink.js'
import type { Sink } from '../helpers/sink.js'
import { sendOne } from '../helpers/smtp-client.js'
import { freePort } from '../bench/ports.js'

/** Every folder and file under `dir` with its permission bits. */
async function modes(dir: string): Promise<{ path: string; mode: number }[]> {
  const out = [{ path: dir, mode: (await stat(dir)).mode & 0o777 }]
  for (const name of await readdir(dir, { recursive: true })) {
    const path = join(dir, name)
    out.push({ path, mode: (await stat(path)).mode & 0o777 })
  }
  return out
}

describe('files: umask, secret file modes, quarantine paths', () => {
  let dir: string
  let file: string
  let sink: Sink
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shg-files-'))
    sink = await startSink({ starttls: false })
    file = join(dir, 'relay.yaml')
    await writeFile(join(dir, 'admin.token'), 'files-test-token\n')
    await writeFile(join(dir, 'users.passwd'), `alice:${await hashPassword('files test password')}\n`)
    const tree = {
      hostname: 'files.test',
      admin: { address: '127.0.0.1', port: await freePort(), token_file: 'admin.token' },
      dns: { servers: ['127.0.0.1:1'], timeout: '200ms', tries: 1 },
      instances: {
        outbound: {
          listeners: [{ name: 'submission', address: '127.0.0.1', port: 0, tls: 'none' }],
          relay: { networks: ['127.0.0.0/8'], credentials: 'users.passwd' },
          next_hops: [{ host: '127.0.0.1', port: sink.port, tls: 'none' }],
          limits: { drain_timeout: '2s' },
          scan: { rules: RULES_DIR, workers: 1, limits: { time: '10s' } },
          quarantine: { dir: 'quarantine' },
          checks: [{ check: 'data.content_scan', on_error: 'tempfail' }],
        },
      },
    }
    await writeFile(file, stringify(tree))
  })
  after(async () => {
    await sink.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('serve started with umask 022 keeps the quarantine from other users: no folder or file of it is readable by others', async () => {
    const umask = process.umask(0o022)
    let relay: RelayProcess | undefined
    try {
      relay = await spawnRelay(['--config', file, '--instance', 'outbound'])
    } finally {
      process.umask(umask)
    }
    try {
      const raw = await samples.mimeMessage({ subject: 'macro', attachments: [{ filename: 'figures.docm', content: await samples.docm() }] })
      const r = await sendOne(relay.port('submission'), 'alice@customer.test', ['bob@remote.test'], raw)
      assert.match(r.end?.line ?? '', /^554 5\.7\.1 Message held for review/)
    } finally {
      await relay.stop()
    }
    const kept = await modes(join(dir, 'quarantine'))
    assert.ok(kept.some((k) => k.path.endsWith('.eml')) && kept.some((k) => k.path.endsWith('index.jsonl')), JSON.stringify(kept))
    for (const k of kept) assert.equal(k.mode & 0o027, 0, `${k.path} has mode ${k.mode.toString(8)}`)
  })

  it('check-config warns about a token or credentials file that others can read or write, and exits 0', async () => {
    await chmod(join(dir, 'admin.token'), 0o644)
    await chmod(join(dir, 'users.passwd'), 0o666)
    const loose = await runCli(['check-config', '--config', file])
    assert.equal(loose.code, 0, loose.stderr)
    const at = `${file.replace(/[.]/g, '\\.')}:\\d+:\\d+`
    assert.match(loose.stderr, new RegExp(`^${at} admin\\.token_file: warning: ${dir}/admin\\.token is readable by anyone \\(mode 0644\\); chmod 600`, 'm'))
    assert.match(
      loose.stderr,
      new RegExp(`^${at} instances\\.outbound\\.relay\\.credentials: warning: ${dir}/users\\.passwd is readable and writable by anyone \\(mode 0666\\)`, 'm'),
    )
    await chmod(join(dir, 'admin.token'), 0o600)
    await chmod(join(dir, 'users.passwd'), 0o640)
    const tight = await runCli(['check-config', '--config', file])
    assert.equal(tight.code, 0, tight.stderr)
    assert.doesNotMatch(tight.stderr, /warning/)
  })

  it('leaves out an index line whose message file is outside the quarantine: show --raw does not print it, list does not name it', async () => {
    await writeFile(join(dir, 'secret.txt'), 'TOP SECRET\n')
    const day = new Date().toISOString().slice(0, 10)
    await mkdir(join(dir, 'quarantine', day), { recursive: true })
    const hostile = (id: string, path: string) =>
      JSON.stringify({
        id,
        kind: 'held',
        when: new Date().toISOString(),
        instance: 'outbound',
        client: { address: '192.0.2.1', ptr: null },
        user: null,
        sender: 'a@b.test',
        recipients: ['c@d.test'],
        subject: 'x',
        reason: 'x',
        reply: 'x',
        hits: [],
        flags: [],
        file: path,
        size: 11,
      })
    const lines = [hostile('HOSTILE0000001', '../secret.txt'), hostile('HOSTILE0000002', `${day}/x/../../../secret.txt`), hostile('HOSTILE0000003', join(dir, 'secret.txt'))]
    await writeFile(join(dir, 'quarantine', day, 'index.jsonl'), `${lines.join('\n')}\n`, { flag: 'a' })
    assert.equal((await quarantineIndex(join(dir, 'quarantine'))).filter((l) => String(l.id).startsWith('HOSTILE')).length, 3)
    for (const id of ['HOSTILE0000001', 'HOSTILE0000002', 'HOSTILE0000003']) {
      const show = await runCli(['quarantine', 'show', id, '--raw', '--config', file])
      assert.equal(show.code, 1)
      assert.doesNotMatch(show.stdout, /TOP SECRET/)
      assert.match(show.stderr, new RegExp(`no message ${id} in `))
    }
    const list = await runCli(['quarantine', 'list', '--json', '--config', file])
    assert.equal(list.code, 0, list.stderr)
    const ids = (JSON.parse(list.stdout) as { id: string }[]).map((e) => e.id)
    assert.equal(ids.length, 1)
    assert.ok(!ids.some((id) => id.startsWith('HOSTILE')))
  })
})
