import assert from 'node:assert/strict'
import net from 'node:net'
import { describe, it } from 'node:test'
import { clientFaults } from '../../src/metrics/relay-metrics.js'
import { metricValue } from '../helpers/metrics.js'
import { relayWithSink, waitFor } from '../helpers/relay.js'
import { message, SmtpDialog } from '../helpers/smtp-client.js'
import type { Reply } from '../helpers/smtp-client.js'

// What a client does wrong is the client's fault: it is answered, counted against the session
// (smtp.hard_error_limit) and logged as one short line, never as an error of ours.

const TOO_MANY =
  '421 4.7.0 Too many errors in this session (limit 20); check the commands your mail program sends, then reconnect; see https://postmaster.example.net/why/too-many-errors'

/** Sends `lines` pipelined and reads up to `max` replies, fewer if the connection closes. */
async function pipeline(c: SmtpDialog, lines: string[], max = lines.length + 1): Promise<Reply[]> {
  c.write(lines.map((l) => `${l}\r\n`).join(''))
  const replies: Reply[] = []
  while (replies.length < max) {
    try {
      replies.push(await c.read(5000))
    } catch {
      break
    }
  }
  return replies
}

async function greeted(port: number, localAddress: string): Promise<SmtpDialog> {
  const c = await SmtpDialog.open({ port, localAddress })
  await c.greeting
  await c.cmd('EHLO pc.test')
  return c
}

/** A raw socket that has read the greeting; `until` waits for the text received so far to match. */
async function raw(port: number): Promise<{ socket: net.Socket; until: (pattern: RegExp) => Promise<void> }> {
  const socket = net.connect(port, '127.0.0.1')
  socket.on('error', () => undefined)
  let received = ''
  socket.on('data', (d: Buffer) => (received += d.toString('latin1')))
  const until = (pattern: RegExp) => waitFor(() => pattern.test(received), 5000, `a reply matching ${String(pattern)}`)
  await until(/^220 /)
  return { socket, until }
}

describe('the hard error limit (smtp.hard_error_limit, default 20)', () => {
  const env = relayWithSink()

  it('answers the command after the 20th refusal with 421 4.7.0 Too many errors and closes: 5,000 refused RCPTs are not possible', async () => {
    const before = await metricValue(clientFaults, { listener: 'submission', fault: 'hard_error_limit' })
    const c = await greeted(env.relay.port('submission'), '127.0.8.1')
    const replies = await pipeline(c, ['MAIL FROM:<bot@spam.test>', ...Array.from({ length: 5000 }, (_, i) => `RCPT TO:<u${i}@remote.test>`)])
    assert.equal(replies[0]?.code, 250)
    assert.deepEqual([...new Set(replies.slice(1, 21).map((r) => r.code))], [554])
    assert.equal(replies[21]?.line, TOO_MANY)
    assert.equal(replies.length, 22)
    await waitFor(() => c.closed, 5000, 'the connection to close')
    assert.equal(await metricValue(clientFaults, { listener: 'submission', fault: 'hard_error_limit' }), before + 1)
  })

  it('counts the library’s syntax and sequence errors too', async () => {
    const c = await greeted(env.relay.port('submission'), '127.0.8.2')
    const replies = await pipeline(c, Array.from({ length: 30 }, () => 'MAIL FROM:<broken'))
    assert.equal(replies.length, 21)
    assert.ok(replies.slice(0, 20).every((r) => r.code >= 500), replies.map((r) => r.line).join('\n'))
    assert.equal(replies[20]?.line, TOO_MANY)
  })

  it('starts counting again after a relayed message, as Postfix does', async () => {
    const c = await greeted(env.relay.port('submission'), '127.0.0.1')
    const refused = Array.from({ length: 19 }, () => 'RCPT TO:<friend@remote.test>') // 503: no MAIL yet
    const first = await pipeline(c, refused, refused.length)
    assert.deepEqual([...new Set(first.map((r) => r.code))], [503])
    const sent = await c.send('customer@customer.test', ['friend@remote.test'], message('between errors'))
    assert.equal(sent.end?.code, 250, sent.end?.line)
    const second = await pipeline(c, refused, refused.length)
    assert.equal(second.length, 19, 'the session is still open')
    assert.ok(second.every((r) => r.code !== 421))
    await c.quit()
  })

})

describe('the hard error limit and our own faults', () => {
  // The next hop is a closed port: every message is deferred with 451 4.4.1, our fault.
  const env = relayWithSink({}, (p) => {
    p.instances.outbound.next_hops = [{ host: '127.0.0.1', port: 1, connect_timeout: '1s', timeout: '2s' }]
  })

  it('does not count 4.3.x and 4.4.x deferrals (ours, not the client’s) against the client', async () => {
    const c = await greeted(env.relay.port('submission'), '127.0.0.1')
    const codes = []
    // The next hop is asked at RCPT, so its absence is answered there.
    for (let i = 0; i < 21; i++) {
      codes.push((await c.send('customer@customer.test', ['friend@remote.test'], message(`hop down ${i}`))).rcpt[0]?.line.slice(0, 9))
      assert.equal((await c.cmd('RSET')).code, 250)
    }
    assert.deepEqual([...new Set(codes)], ['451 4.4.1'])
    assert.equal((await c.cmd('NOOP')).code, 250, 'the session is still open')
    await c.quit()
  })
})

describe('client faults in the log', () => {
  const env = relayWithSink({}, (p) => {
    p.instances.outbound.smtp = { hard_error_limit: 1000, logged_refusals: 10 }
  })
  const errorLines = () => env.relay.logs.lines.filter((l) => l.level === 'error' || l.level === 'fatal')
  const since = (mark: number) => env.relay.logs.lines.slice(mark)
  const hasStack = (l: Record<string, unknown>) => JSON.stringify(l).includes('"stack"')

  it('logs garbage after STARTTLS as one info line with the TLS reason, no stack', async () => {
    const mark = env.relay.logs.lines.length
    const before = await metricValue(clientFaults, { listener: 'submission', fault: 'tls' })
    const { socket: s, until } = await raw(env.relay.port('submission'))
    s.write('EHLO pc.test\r\n')
    await until(/\r\n250 /)
    s.write('STARTTLS\r\n')
    await until(/\r\n220 /)
    s.write('this is not a TLS ClientHello\r\n\u0000\u00ff\r\n')
    await waitFor(() => since(mark).some((l) => l.msg === 'client TLS failed'), 5000, 'the TLS failure line')
    s.destroy()
    const lines = since(mark).filter((l) => l.msg === 'client TLS failed')
    assert.equal(lines.length, 1)
    assert.equal(lines[0]?.level, 'info')
    assert.match(String(lines[0]?.reason), /^[a-z ]+$/i, 'a one-line reason such as "wrong version number"')
    assert.ok(!hasStack(lines[0] ?? {}))
    assert.deepEqual(errorLines(), [])
    assert.equal(await metricValue(clientFaults, { listener: 'submission', fault: 'tls' }), before + 1, 'smarthost_client_faults_total{fault="tls"}')
  })

  it('logs a failed handshake on the implicit TLS port as one info line', async () => {
    const mark = env.relay.logs.lines.length
    const s = net.connect(env.relay.port('submissions'), '127.0.0.1')
    s.on('error', () => undefined)
    s.write('EHLO plain-text.test\r\n')
    await waitFor(() => since(mark).some((l) => l.msg === 'client TLS failed'), 5000, 'the TLS failure line')
    s.destroy()
    assert.deepEqual(errorLines(), [])
  })

  it('logs a client hanging up in the middle of DATA at debug, not as an internal error', async () => {
    const mark = env.relay.logs.lines.length
    const c = await greeted(env.relay.port('submission'), '127.0.0.1')
    await c.cmd('MAIL FROM:<customer@customer.test>')
    await c.cmd('RCPT TO:<friend@remote.test>')
    await c.cmd('DATA')
    c.write('Subject: half a message\r\n\r\nand then the line drops')
    await new Promise((resolve) => setImmediate(resolve))
    c.destroy()
    await waitFor(() => since(mark).some((l) => l.msg === 'client connection lost during a command'), 5000, 'the hang-up line')
    const line = since(mark).find((l) => l.msg === 'client connection lost during a command')
    assert.equal(line?.level, 'debug')
    assert.ok(!hasStack(line ?? {}))
    assert.ok(!since(mark).some((l) => String(l.msg).startsWith('internal error')))
    assert.deepEqual(errorLines(), [])
  })

  it('logs a connection reset in the middle of a transaction at debug', async () => {
    const mark = env.relay.logs.lines.length
    const { socket: s, until } = await raw(env.relay.port('submission'))
    s.write('EHLO pc.test\r\n')
    await until(/\r\n250 /)
    s.write('MAIL FROM:<customer@customer.test>\r\n')
    await until(/\r\n250 [^\r]*\r\n250 /)
    s.resetAndDestroy()
    await waitFor(() => since(mark).some((l) => l.msg === 'client connection lost'), 5000, 'the reset line')
    assert.equal(since(mark).find((l) => l.msg === 'client connection lost')?.level, 'debug')
    assert.deepEqual(errorLines(), [])
  })

  it('logs at most smtp.logged_refusals refusals of a session, then one line with the count of the rest', async () => {
    const mark = env.relay.logs.lines.length
    const c = await greeted(env.relay.port('submission'), '127.0.8.9')
    const lines = Array.from({ length: 200 }, (_, i) => [`MAIL FROM:<bot@spam.test>`, `RCPT TO:<u${i}@remote.test>`, 'RSET']).flat()
    const replies = await pipeline(c, lines, lines.length)
    assert.equal(replies.filter((r) => r.code === 554).length, 200)
    await c.quit()
    await waitFor(() => since(mark).some((l) => l.unlogged !== undefined), 5000, 'the summary line')
    const session = since(mark).filter((l) => l.ip === '127.0.8.9' || (l.session as { client?: { address?: string } } | undefined)?.client?.address === '127.0.8.9')
    assert.equal(session.filter((l) => l.event === 'transaction' && l.level === 'info').length, 10)
    const summary = session.find((l) => l.unlogged !== undefined)
    assert.equal(summary?.unlogged, 190)
    assert.equal(summary?.msg, '190 further refusals in this session were not logged')
    const bytes = session.reduce((sum, l) => sum + JSON.stringify(l).length, 0)
    assert.ok(bytes < 20_000, `${bytes} bytes of log for 200 refusals`)
  })
})
