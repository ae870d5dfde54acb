import assert from 'node:assert/strict'
import { once } from 'node:events'
import net from 'node:net'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { stringify } from 'yaml'
import { message, SmtpDialog } from '../helpers/smtp-client.js'
import { startSink } from '../helpers/sink.js'
import type { Sink } from '../helpers/sink.js'
import { testPolicy } from '../helpers/relay.js'
import type { PolicyTree } from '../helpers/relay.js'
import { spawnRelay } from '../helpers/process.js'
import type { RelayProcess } from '../helpers/process.js'

// The relay as a real process: SIGHUP reloads, SIGTERM drains.

function plainPolicy(sinkPort: number, blocked: string | null): PolicyTree {
  return testPolicy([sinkPort], (p) => {
    delete p.instances.inbound
    p.instances.outbound.listeners = [{ name: 'submission', address: '127.0.0.1', port: 0, tls: 'none' }]
    delete p.instances.outbound.relay.credentials
    p.instances.outbound.next_hops[0].tls = 'none'
    p.instances.outbound.checks = blocked
      ? [{ check: 'rcpt.recipient_access', rules: [{ match: [blocked], action: 'reject', text: `${blocked} is blocked here` }] }]
      : []
    p.log = { level: 'info' }
  })
}

async function rcptReply(port: number, rcpt: string, dialog?: SmtpDialog) {
  const c = dialog ?? (await SmtpDialog.open({ port }))
  if (!dialog) {
    await c.greeting
    await c.cmd('EHLO pc.test')
  }
  await c.cmd('RSET')
  await c.cmd('MAIL FROM:<a@customer.test>')
  const r = await c.cmd(`RCPT TO:<${rcpt}>`)
  if (!dialog) await c.quit()
  return r
}

describe('SIGHUP reload', () => {
  let dir: string
  let sink: Sink
  let relay: RelayProcess
  let file: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shg-reload-'))
    sink = await startSink({ starttls: false })
    file = join(dir, 'relay.yaml')
    await writeFile(file, stringify(plainPolicy(sink.port, 'blocked@ext.test')))
    relay = await spawnRelay(['--config', file])
  })
  after(async () => {
    await relay.stop()
    await sink.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('refuses an invalid tree with the reason, keeps the running policy and the open sessions', async () => {
    const port = relay.port('submission')
    assert.match((await rcptReply(port, 'blocked@ext.test')).line, /^550 5\.7\.1 blocked@ext\.test is blocked here/)
    const live = await SmtpDialog.open({ port })
    await live.greeting
    await live.cmd('EHLO pc.test')
    const broken = plainPolicy(sink.port, null)
    broken.instances.outbound.limits.recipients_per_mesage = 5
    await writeFile(file, stringify(broken))
    relay.child.kill('SIGHUP')
    const refused = await relay.waitForLog((l) => l.msg === 'reload refused; the running policy stays', 10_000, 'the refusal')
    assert.equal(refused.code, 'RELAY_ERR_CONFIG_INVALID')
    assert.match(String((refused.issues as string[])[0]), new RegExp(`^${file}:\\d+:\\d+ instances\\.outbound\\.limits\\.recipients_per_mesage: unknown key "recipients_per_mesage" — did you mean "recipients_per_message"\\?$`))
    assert.match((await rcptReply(port, 'blocked@ext.test')).line, /^550 5\.7\.1/)
    assert.match((await rcptReply(port, 'blocked@ext.test', live)).line, /^550 5\.7\.1/)
    await live.quit()
  })

  it('applies a valid tree to new sessions while a session opened before keeps its snapshot', async () => {
    const port = relay.port('submission')
    const live = await SmtpDialog.open({ port })
    await live.greeting
    await live.cmd('EHLO pc.test')
    await writeFile(file, stringify(plainPolicy(sink.port, null)))
    relay.child.kill('SIGHUP')
    await relay.waitForLog((l) => l.msg === 'policy reloaded', 10_000, 'the reload')
    assert.equal((await rcptReply(port, 'blocked@ext.test')).code, 250)
    // The old session was not dropped, and still runs the policy it started with.
    assert.match((await rcptReply(port, 'blocked@ext.test', live)).line, /^550 5\.7\.1/)
    await live.cmd('RSET')
    const r = await live.send('a@customer.test', ['ok@ext.test'], message('after reload'))
    assert.equal(r.end?.code, 250)
    await live.quit()
  })

  it('keeps running when a reloaded tree names a listener whose port is taken, and says which', async (t) => {
    const squatter = net.createServer()
    squatter.listen(0, '127.0.0.1')
    await once(squatter, 'listening')
    t.after(() => new Promise<void>((resolve) => squatter.close(() => resolve())))
    const taken = (squatter.address() as net.AddressInfo).port
    const port = relay.port('submission')
    const tree = plainPolicy(sink.port, null)
    tree.instances.outbound.listeners = [
      { name: 'submission', address: '127.0.0.1', port: 0, tls: 'none' },
      { name: 'extra', address: '127.0.0.1', port: taken, tls: 'none' },
    ]
    await writeFile(file, stringify(tree))
    relay.child.kill('SIGHUP')
    const logged = await relay.waitForLog((l) => l.msg === 'policy reloaded, but some listeners could not be opened', 10_000, 'the failed listener')
    assert.equal(logged.code, 'RELAY_ERR_LISTEN')
    assert.match(String((logged.issues as string[])[0]), new RegExp(`^listener extra: .*127\\.0\\.0\\.1:${taken}`))
    assert.equal(relay.child.exitCode, null)
    assert.equal((await rcptReply(port, 'blocked@ext.test')).code, 250)
  })
})

describe('SIGTERM drain', () => {
  it('stops accepting, lets the transaction in flight finish with 250, answers 421 4.3.2 after it, and exits 0', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'shg-drain-'))
    const sink = await startSink({ starttls: false, delayMs: 1500 })
    const file = join(dir, 'relay.yaml')
    await writeFile(file, stringify(plainPolicy(sink.port, null)))
    const relay = await spawnRelay(['--config', file])
    t.after(async () => {
      await relay.stop('SIGKILL')
      await sink.close()
      await rm(dir, { recursive: true, force: true })
    })
    const port = relay.port('submission')
    const busy = await SmtpDialog.open({ port })
    const idle = await SmtpDialog.open({ port })
    await Promise.all([busy.greeting, idle.greeting])
    await busy.cmd('EHLO busy.test')
    await idle.cmd('EHLO idle.test')
    await busy.cmd('MAIL FROM:<a@customer.test>')
    await busy.cmd('RCPT TO:<b@ext.test>')
    await busy.cmd('DATA')
    busy.write(message('in flight').replace(/\r?\n/g, '\r\n') + '\r\n.\r\n')
    // The sink holds the message for 1.5 s: SIGTERM arrives while it is in flight.
    await new Promise((r) => setTimeout(r, 300))
    relay.child.kill('SIGTERM')
    const idleBye = await idle.read()
    assert.equal(idleBye.line, '421 4.3.2 Service shutting down; please try again later')
    await assert.rejects(SmtpDialog.open({ port }), /ECONNREFUSED/)
    const done = await busy.read()
    assert.equal(done.code, 250, done.line)
    assert.equal(sink.messages.length, 1)
    const bye = await busy.read()
    assert.equal(bye.line, '421 4.3.2 Service shutting down; please try again later')
    assert.equal(await relay.exited, 0)
  })
})

describe('SIGTERM with a stuck client', () => {
  it('ends a connection that never finishes its TLS handshake at the drain deadline and exits 0', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'shg-drain-'))
    const sink = await startSink({ starttls: false })
    const file = join(dir, 'relay.yaml')
    const tree = plainPolicy(sink.port, null)
    tree.instances.outbound.listeners = [{ name: 'submissions', address: '127.0.0.1', port: 0, tls: 'implicit' }]
    tree.instances.outbound.limits.drain_timeout = '1s'
    await writeFile(file, stringify(tree))
    const relay = await spawnRelay(['--config', file])
    t.after(async () => {
      await relay.stop('SIGKILL')
      await sink.close()
      await rm(dir, { recursive: true, force: true })
    })
    // A TCP connection to the implicit-TLS port that never sends a ClientHello.
    const stuck = net.connect({ port: relay.port('submissions'), host: '127.0.0.1' })
    await once(stuck, 'connect')
    const closed = once(stuck, 'close')
    relay.child.kill('SIGTERM')
    assert.equal(await relay.exited, 0)
    await closed
  })
})
