import assert from 'node:assert/strict'
import { once } from 'node:events'
import net from 'node:net'
import { describe, it } from 'node:test'
import { clientFaults } from '../../src/metrics/relay-metrics.js'
import { metricValue } from '../helpers/metrics.js'
import { SmtpDialog } from '../helpers/smtp-client.js'
import { relayWithSink, waitFor } from '../helpers/relay.js'

const URL = 'https://postmaster.example.net/why/'
const PREGREET = `554 5.5.0 SMTP protocol synchronization error: commands sent before the greeting; wait for the 220 greeting; see ${URL}pregreet`
const pipelined = (command: string) =>
  `554 5.5.0 SMTP protocol synchronization error: ${command} sent before the reply to the previous command; wait for each reply, or greet with EHLO to pipeline (RFC 2920); see ${URL}unauth-pipelining`

/** Connects and writes `data` at once, without waiting for the greeting; resolves with all the relay said until it closed. */
async function talkFirst(port: number, data: string): Promise<string> {
  const socket = net.connect({ host: '127.0.0.1', port })
  socket.write(data)
  let said = ''
  socket.setEncoding('latin1')
  socket.on('data', (d: string) => (said += d))
  await once(socket, 'close')
  return said
}

/** A greeted session that writes `lines` in one packet and reads `replies` replies. */
async function inOnePacket(port: number, lines: string[], replies: number, localAddress?: string): Promise<{ lines: string[]; closed: boolean }> {
  const c = await SmtpDialog.open({ port, localAddress })
  await c.greeting
  c.write(lines.map((l) => `${l}\r\n`).join(''))
  const got: string[] = []
  for (let i = 0; i < replies; i++) got.push((await c.read(5000)).line)
  const closed = await c.read(2000).then(
    () => false,
    (err: Error) => /connection closed/.test(err.message),
  )
  c.destroy()
  return { lines: got, closed }
}

describe('protocol hygiene on customer listeners', () => {
  const ctx = relayWithSink({}, (p) => {
    ;(p.instances.outbound.listeners as object[]).push({ name: 'lenient', address: '127.0.0.1', port: 0, tls: 'none', forbid_unauth_pipelining: false })
  })

  it('refuses a client that talks before the greeting with 554 5.5.0 and hangs up, on a listener with greet_pause 0', async () => {
    const before = await metricValue(clientFaults, { listener: 'submission', fault: 'pregreet' })
    // Without a pause the greeting races the client's first bytes: every try must be caught.
    for (let i = 0; i < 10; i++) {
      const said = await talkFirst(ctx.relay.port('submission'), 'EHLO bot.test\r\n')
      assert.equal(said, `${PREGREET}\r\n`, `try ${i + 1}`)
    }
    assert.equal(await metricValue(clientFaults, { listener: 'submission', fault: 'pregreet' }), before + 10)
  })

  it('refuses MAIL sent in one packet with EHLO, before the EHLO reply, with 554 5.5.0, hangs up and logs why', async () => {
    const before = await metricValue(clientFaults, { listener: 'submission', fault: 'unauth_pipelining' })
    const lines = ['EHLO pc.test', 'MAIL FROM:<a@customer.test>', 'RCPT TO:<b@remote.test>']
    const r = await inOnePacket(ctx.relay.port('submission'), lines, 2, '127.0.5.5')
    assert.match(r.lines[0] ?? '', /^250 /)
    assert.equal(r.lines[1], pipelined('MAIL'))
    assert.equal(r.closed, true)
    const closed = () =>
      ctx.relay.logs.sessions().find((l) => l.stage === 'close' && (l.session.client as { address: string }).address === '127.0.5.5')
    await waitFor(() => closed() !== undefined, 5000, 'the disconnect line')
    assert.equal(closed()?.reason, 'closed')
    assert.match(String(closed()?.reply), /^554 5\.5\.0 SMTP protocol synchronization error: MAIL sent before/)
    assert.equal(await metricValue(clientFaults, { listener: 'submission', fault: 'unauth_pipelining' }), before + 1)
  })

  it('refuses pipelining after HELO, which does not advertise PIPELINING', async () => {
    const c = await SmtpDialog.open({ port: ctx.relay.port('submission') })
    await c.greeting
    assert.equal((await c.cmd('HELO pc.test')).code, 250)
    c.write('MAIL FROM:<a@customer.test>\r\nRCPT TO:<b@remote.test>\r\n')
    assert.equal((await c.read()).code, 250)
    assert.equal((await c.read()).line, pipelined('RCPT'))
    await assert.rejects(c.read(2000), /connection closed/)
  })

  it('lets a client pipeline once the EHLO reply advertised PIPELINING', async () => {
    const c = await SmtpDialog.open({ port: ctx.relay.port('submission') })
    await c.greeting
    assert.ok((await c.cmd('EHLO pc.test')).lines.includes('PIPELINING'))
    c.write('MAIL FROM:<a@customer.test>\r\nRCPT TO:<b@remote.test>\r\nDATA\r\n')
    assert.deepEqual([(await c.read()).code, (await c.read()).code, (await c.read()).code], [250, 250, 354])
    c.write('Subject: pipelined\r\n\r\nHello.\r\n.\r\nQUIT\r\n')
    assert.equal((await c.read()).code, 250)
    assert.equal((await c.read()).code, 221)
    c.destroy()
    assert.deepEqual(ctx.sink.messages.at(-1)?.to, ['b@remote.test'])
  })

  it('refuses a command pipelined after a new EHLO before its reply, even once an earlier EHLO allowed pipelining', async () => {
    const c = await SmtpDialog.open({ port: ctx.relay.port('submission') })
    await c.greeting
    await c.cmd('EHLO pc.test')
    c.write('EHLO pc.test\r\nMAIL FROM:<a@customer.test>\r\n')
    assert.equal((await c.read()).code, 250)
    assert.equal((await c.read()).line, pipelined('MAIL'))
    await assert.rejects(c.read(2000), /connection closed/)
  })

  it('allows pipelining before the EHLO reply where forbid_unauth_pipelining is false', async () => {
    const r = await inOnePacket(ctx.relay.port('lenient'), ['EHLO pc.test', 'MAIL FROM:<a@customer.test>', 'RSET', 'QUIT'], 4)
    assert.deepEqual(r.lines.map((l) => l.slice(0, 3)), ['250', '250', '250', '221'])
  })

  it('allows pipelining before the EHLO reply on an MX listener by default', async () => {
    const r = await inOnePacket(ctx.relay.port('mx'), ['EHLO mx.remote.test', 'MAIL FROM:<a@remote.test>', 'RSET', 'QUIT'], 4)
    assert.deepEqual(r.lines.map((l) => l.slice(0, 3)), ['250', '250', '250', '221'])
  })
})

describe('envelope addresses that are not UTF-8', () => {
  const ctx = relayWithSink()

  it('refuses a MAIL FROM address with bytes that are not UTF-8 with 501 5.1.7, and a RCPT TO one with 501 5.1.3', async () => {
    const c = await SmtpDialog.open({ port: ctx.relay.port('submission') })
    await c.greeting
    await c.cmd('EHLO pc.test')
    c.write(Buffer.concat([Buffer.from('MAIL FROM:<j'), Buffer.from([0xf6]), Buffer.from('rg@customer.test> SMTPUTF8\r\n')]))
    const mail = await c.read()
    assert.equal(mail.line, `501 5.1.7 The sender address is not valid UTF-8; send it as UTF-8 (with SMTPUTF8) or as plain ASCII; see ${URL}invalid-utf8`)
    // The same address in UTF-8 is accepted: only the broken bytes are refused.
    c.write(Buffer.from('MAIL FROM:<jörg@customer.test> SMTPUTF8\r\n', 'utf8'))
    assert.equal((await c.read()).code, 250)
    c.write(Buffer.concat([Buffer.from('RCPT TO:<b'), Buffer.from([0xc3, 0x28]), Buffer.from('@remote.test>\r\n')]))
    const rcpt = await c.read()
    assert.equal(rcpt.line, `501 5.1.3 The recipient address is not valid UTF-8; send it as UTF-8 (with SMTPUTF8) or as plain ASCII; see ${URL}invalid-utf8`)
    await c.quit()
    assert.equal(ctx.sink.messages.length, 0)
  })
})
