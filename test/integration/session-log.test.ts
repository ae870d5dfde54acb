import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { relayWithDns } from '../helpers/dns-relay.js'
import { relayWithSink, startRelay, testPolicy, USER, waitFor } from '../helpers/relay.js'
import { startSink } from '../helpers/sink.js'
import type { LogCapture } from '../helpers/relay.js'
import { authPlain, message, SmtpDialog } from '../helpers/smtp-client.js'

// Every session outcome is an event and a log line, not only finished transactions: refusals at
// connect, at HELO and at AUTH, authentications and disconnects, each with the reply the client got.

type SessionLine = ReturnType<LogCapture['sessions']>[number]
const ISO = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z'

function sessionLine(logs: LogCapture, address: string, test: (l: SessionLine) => boolean): Promise<SessionLine> {
  const find = () => logs.sessions().find((l) => (l.session.client as { address: string }).address === address && test(l))
  return waitFor(() => find() !== undefined, 5000, `a session line for ${address}`).then(() => find() as SessionLine)
}

describe('session outcomes in the JSON log', () => {
  const t = relayWithDns(['rdns'], (p) => {
    const out = p.instances.outbound
    out.relay.networks = ['127.0.0.0/8']
    out.checks = [
      { check: 'connect.client_access', rules: [{ match: ['127.0.6.1'], action: 'reject', text: 'Your address is blocked here' }] },
      { check: 'helo.heuristics', ours: { default: 'reject' } },
    ]
  })

  it('logs a client refused at connect with the check, the reply text and then its disconnect', async () => {
    const c = await SmtpDialog.open({ port: t.relay.port('submission'), localAddress: '127.0.6.1' })
    assert.match((await c.greeting).line, /^554 5\.7\.1 Your address is blocked here/)
    const refused = await sessionLine(t.relay.logs, '127.0.6.1', (l) => l.stage === 'connect')
    assert.equal(refused.outcome, 'rejected')
    assert.equal(refused.check, 'connect.client_access')
    assert.equal(refused.reply, '554 5.7.1 Your address is blocked here')
    assert.match(
      refused.msg,
      /^outbound\/submission \S+: client=unknown\[127\.0\.6\.1\]:\d+, stage=connect, check=connect\.client_access, status=reject \(554 5\.7\.1 Your address is blocked here\)$/,
    )
    // The summary comes first in the JSON object, right after level and time.
    const raw = t.relay.logs.lines.find((l) => l.msg === refused.msg)
    assert.deepEqual(Object.keys(raw ?? {}).slice(0, 4), ['level', 'time', 'msg', 'event'])
    const gone = await sessionLine(t.relay.logs, '127.0.6.1', (l) => l.stage === 'close')
    assert.equal(gone.reason, 'refused')
    assert.equal(gone.outcome, 'disconnected')
  })

  it('logs a client in the penalty box, refused at connect with 421 4.7.1', async () => {
    await t.relay.service.penaltyBox('outbound')?.add({ scope: 'address', value: '127.0.6.3', who: 'test', why: 'spam wave' })
    const c = await SmtpDialog.open({ port: t.relay.port('submission'), localAddress: '127.0.6.3' })
    assert.equal((await c.greeting).code, 421)
    const refused = await sessionLine(t.relay.logs, '127.0.6.3', (l) => l.stage === 'connect')
    assert.equal(refused.outcome, 'tempfailed')
    assert.equal(refused.check, 'connect.penalty_box')
    assert.match(refused.msg, /, stage=connect, check=connect\.penalty_box, status=deferred \(421 4\.7\.1 .+\)$/)
  })

  it('logs a refused HELO name with the check and the reply text', async () => {
    const c = await SmtpDialog.open({ port: t.relay.port('submission'), localAddress: '127.0.6.4' })
    await c.greeting
    await c.cmd('EHLO relay.test')
    assert.equal((await c.cmd('MAIL FROM:<alice@customer.test>')).code, 550)
    await c.quit()
    const refused = await sessionLine(t.relay.logs, '127.0.6.4', (l) => l.stage === 'helo')
    assert.equal(refused.check, 'helo.heuristics')
    assert.match(refused.msg, /, helo=<relay\.test>, stage=helo, check=helo\.heuristics, status=reject \(550 5\.7\.1 <relay\.test>: Helo command rejected: /)
    const gone = await sessionLine(t.relay.logs, '127.0.6.4', (l) => l.stage === 'close')
    assert.equal(gone.reason, 'quit')
    assert.match(gone.msg, /, transactions=1, duration=\d+\.\d{3}, reason=quit, status=disconnect$/)
  })

  it('logs the disconnect of a client closed for too many errors, with the 421 it got', async () => {
    const c = await SmtpDialog.open({ port: t.relay.port('submission'), localAddress: '127.0.6.6' })
    await c.greeting
    let last = await c.cmd('BOGUS')
    while (last.code !== 421) last = await c.cmd('BOGUS')
    const gone = await sessionLine(t.relay.logs, '127.0.6.6', (l) => l.stage === 'close')
    assert.equal(gone.reason, 'errors')
    assert.equal(gone.reply, last.line)
    assert.match(gone.msg, /, transactions=0, duration=\d+\.\d{3}, reason=errors, status=disconnect \(421 .*too many.*\)$/i)
  })

  it('logs a failed AUTH with the name tried and the reply, and a successful one', async () => {
    const c = await SmtpDialog.open({ port: t.relay.port('submission'), localAddress: '127.0.6.5' })
    await c.greeting
    await c.starttls('laptop.customer.test')
    assert.equal((await c.cmd(authPlain(USER.name, 'wrong'))).code, 535)
    assert.equal((await c.cmd(authPlain(USER.name, USER.password))).code, 235)
    c.destroy()
    const failed = await sessionLine(t.relay.logs, '127.0.6.5', (l) => l.stage === 'auth' && l.outcome === 'rejected')
    assert.equal(failed.user, USER.name)
    assert.equal(failed.reply, '535 5.7.8 Authentication credentials invalid')
    assert.match(failed.msg, new RegExp(`, user=${USER.name}, stage=auth, status=reject \\(535 5\\.7\\.8 Authentication credentials invalid\\)$`))
    const ok = await sessionLine(t.relay.logs, '127.0.6.5', (l) => l.outcome === 'authenticated')
    assert.match(ok.msg, new RegExp(`, user=${USER.name}, stage=auth, status=authenticated$`))
    const gone = await sessionLine(t.relay.logs, '127.0.6.5', (l) => l.stage === 'close')
    assert.equal(gone.reason, 'lost')
  })
})

describe('log.format: text', () => {
  const env = relayWithSink({}, (p) => {
    p.log.format = 'text'
    p.instances.outbound.relay.networks = ['127.0.0.0/8']
    p.instances.outbound.limits.idle_timeout = '1s'
  })
  const text = () => env.relay.logs.text

  it('writes a transaction as one Postfix-style line, summary first, greppable by session id, transaction id and client', async () => {
    const c = await SmtpDialog.open({ port: env.relay.port('submission'), localAddress: '127.0.7.1' })
    await c.greeting
    await c.cmd('EHLO client.test')
    const r = await c.send('a@customer.test', ['x@ext.test'], message('text log'))
    await c.quit()
    assert.equal(r.end?.code, 250)
    const txLine = new RegExp(
      `^${ISO} info outbound/submission (\\w+): client=unknown\\[127\\.0\\.7\\.1\\]:\\d+, session=(\\S+), helo=<client\\.test>, from=<a@customer\\.test>, to=<x@ext\\.test>, size=\\d+, relay=127\\.0\\.0\\.1:\\d+, delay=\\d+\\.\\d{3}, status=sent \\(250 2\\.0\\.0 Ok: relayed as \\1 \\(next hop: .+\\)\\)$`,
    )
    await waitFor(() => text().some((l) => txLine.test(l)), 5000, 'the transaction line')
    const [, txId, sid] = txLine.exec(text().find((l) => txLine.test(l)) ?? '') ?? []
    await waitFor(() => text().some((l) => l.includes(` ${sid}: `)), 5000, 'the disconnect line')
    assert.equal(text().filter((l) => l.includes(txId ?? '?')).length, 1)
    const ofSession = text().filter((l) => l.includes(sid ?? '?'))
    assert.equal(ofSession.length, 2)
    assert.match(ofSession[1] ?? '', new RegExp(`^${ISO} info outbound/submission ${sid}: client=unknown\\[127\\.0\\.7\\.1\\]:\\d+, helo=<client\\.test>, transactions=1, duration=\\d+\\.\\d{3}, reason=quit, status=disconnect$`))
    assert.deepEqual(text().filter((l) => l.includes('[127.0.7.1]')), ofSession)
  })

  it('writes the relay’s other lines in the same shape, fields after the message', () => {
    const port = env.relay.port('submission')
    assert.ok(text().some((l) => new RegExp(`^${ISO} info outbound/submission: listening address=127\\.0\\.0\\.1 port=${port} tls=starttls$`).test(l)))
    assert.ok(text().some((l) => new RegExp(`^${ISO} info smarthost-guard: smarthost-guard ready admin=\\{.*\\} instances=\\["outbound","inbound"\\]$`).test(l)))
    assert.equal(env.relay.logs.lines.length, 0)
  })

  it('logs an idle client’s disconnect with the 421 it got', async () => {
    const c = await SmtpDialog.open({ port: env.relay.port('submission'), localAddress: '127.0.7.2' })
    await c.greeting
    assert.equal((await c.read(5000)).line, '421 4.4.2 Timeout waiting for the client; closing the connection')
    const timeout = /^\S+ info outbound\/submission \S+: client=unknown\[127\.0\.7\.2\]:\d+, transactions=0, duration=\d+\.\d{3}, reason=timeout, status=disconnect \(421 4\.4\.2 Timeout waiting for the client; closing the connection\)$/
    await waitFor(() => text().some((l) => timeout.test(l)), 5000, 'the timeout line')
  })
})

describe('the disconnect of a drained session', () => {
  it('logs reason=drain with the 421 4.3.2 the client got', async (t) => {
    const sink = await startSink()
    const relay = await startRelay(testPolicy([sink.port]), { instances: ['outbound'] })
    t.after(async () => {
      await relay.close()
      await sink.close()
    })
    const c = await SmtpDialog.open({ port: relay.port('submission'), localAddress: '127.0.7.3' })
    await c.greeting
    const stopped = relay.service.shutdown()
    assert.equal((await c.read(5000)).line, '421 4.3.2 Service shutting down; please try again later')
    await stopped
    const gone = await sessionLine(relay.logs, '127.0.7.3', (l) => l.stage === 'close')
    assert.equal(gone.reason, 'drain')
    assert.equal(gone.reply, '421 4.3.2 Service shutting down; please try again later')
  })
})
