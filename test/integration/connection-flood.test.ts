import assert from 'node:assert/strict'
import { once } from 'node:events'
import net from 'node:net'
import { describe, it } from 'node:test'
import { INETProtocol, Peer, V1ProxyProtocol } from 'proxy-protocol-js'
import { connectionsRefused, connectionsTimedOut } from '../../src/metrics/relay-metrics.js'
import { metricValue } from '../helpers/metrics.js'
import { relayWithSink, USER, waitFor } from '../helpers/relay.js'
import type { PolicyTree } from '../helpers/relay.js'
import { authPlain, message, SmtpDialog } from '../helpers/smtp-client.js'

// Outsiders are 127.0.x.y source addresses outside the test policy's relay network
// (127.0.0.1/32); the customers are 127.0.0.1 and a user who authenticates.

/** 40 connections per listener, 10 of them for customers, 5 per outsider address. */
const CAP = { connections_per_listener: 40, reserved_for_customers: 10, outsider_connections_per_address: 5 }
const OUTSIDER_SHARE = CAP.connections_per_listener - CAP.reserved_for_customers

/** A raw TCP socket that sends nothing: the start of a TLS handshake that never comes. */
async function silentSocket(port: number, localAddress: string): Promise<{ socket: net.Socket; closed: () => boolean }> {
  const socket = net.connect({ host: '127.0.0.1', port, localAddress })
  let closed = false
  socket.on('close', () => (closed = true))
  socket.on('error', () => undefined)
  await once(socket, 'connect')
  return { socket, closed: () => closed }
}

async function authenticated(port: number, localAddress: string): Promise<SmtpDialog> {
  const c = await SmtpDialog.open({ port, localAddress })
  assert.equal((await c.greeting).code, 220)
  await c.cmd('EHLO laptop.test')
  await c.starttls('laptop.test')
  assert.equal((await c.cmd(authPlain(USER.name, USER.password))).code, 235)
  return c
}

describe('connection flood: outsiders cannot crowd out customers', () => {
  const env = relayWithSink({}, (p) => {
        p.instances.outbound.limits = { ...CAP, greeting_timeout: '4s', tls_handshake_timeout: '1s', drain_timeout: '2s' }
      }, { instances: ['outbound'] })

  it('keeps the reserve for a relay-network customer and an authenticated one while 300 silent outsider connections knock', async () => {
    // Alice authenticated before the flood: AUTH moved her out of the outsiders' share.
    const alice = await authenticated(env.relay.port('submission'), '127.0.7.1')
    const refusedBefore = await metricValue(connectionsRefused, { listener: 'submission', reason: 'outsiders_full' })
    const flood = await Promise.all(
      Array.from({ length: 300 }, async (_, i) => {
        const c = await SmtpDialog.open({ port: env.relay.port('submission'), localAddress: `127.0.5.${1 + (i % 60)}` })
        return { c, greeting: await c.greeting }
      }),
    )
    const greeted = flood.filter((f) => f.greeting.code === 220)
    const refused = flood.filter((f) => f.greeting.code !== 220)
    assert.equal(greeted.length, OUTSIDER_SHARE, 'outsiders get every connection outside the reserve, Alice\u2019s included')
    assert.equal(refused.length, 300 - OUTSIDER_SHARE)
    assert.match(refused[0]?.greeting.line ?? '', /^421 4\.3\.2 Too many connections to this service; please try again in a moment; see https:\/\/postmaster\.example\.net\/why\/listener-busy$/)
    assert.equal((await metricValue(connectionsRefused, { listener: 'submission', reason: 'outsiders_full' })) - refusedBefore, 300 - OUTSIDER_SHARE)

    // The relay network's customer: several sessions at once, all served from the reserve.
    const customers = await Promise.all(
      Array.from({ length: 5 }, async (_, i) => {
        const c = await SmtpDialog.open({ port: env.relay.port('submission') })
        assert.equal((await c.greeting).code, 220)
        await c.cmd('EHLO office.test')
        const r = await c.send('boss@customer.test', ['partner@ext.test'], message(`during the flood ${i}`))
        await c.quit()
        return r.end?.line ?? ''
      }),
    )
    for (const line of customers) assert.match(line, /^250 /)
    const r = await alice.send('alice@customer.test', ['friend@ext.test'], message('authenticated during the flood'))
    assert.match(r.end?.line ?? '', /^250 /)
    await alice.quit()

    // The silent outsiders are cut at greeting_timeout, and a newly arriving user gets in.
    await waitFor(() => greeted.every((f) => f.c.closed), 8000, 'the silent outsiders to be cut')
    const bob = await authenticated(env.relay.port('submission'), '127.0.7.2')
    const late = await bob.send('alice@customer.test', ['friend@ext.test'], message('after the flood'))
    assert.match(late.end?.line ?? '', /^250 /)
    await bob.quit()
    for (const f of flood) f.c.destroy()
  })

  it('caps silent sockets on the implicit-TLS port before the handshake, per address and in all, and closes them at the handshake deadline', async () => {
    const port = env.relay.port('submissions')
    const byAddressBefore = await metricValue(connectionsRefused, { listener: 'submissions', reason: 'address_full' })
    const shareBefore = await metricValue(connectionsRefused, { listener: 'submissions', reason: 'outsiders_full' })
    const timedOutBefore = await metricValue(connectionsTimedOut, { listener: 'submissions', phase: 'tls_handshake' })
    // One address: 5 held, the next 3 closed at once.
    const one: Awaited<ReturnType<typeof silentSocket>>[] = []
    for (let i = 0; i < 8; i++) one.push(await silentSocket(port, '127.0.6.1'))
    await waitFor(() => one.filter((s) => s.closed()).length === 3, 2000, 'the 3 over the per-address cap to be closed')
    assert.equal((await metricValue(connectionsRefused, { listener: 'submissions', reason: 'address_full' })) - byAddressBefore, 3)
    // Many addresses: the outsiders' share fills, the rest is closed at once.
    const started = Date.now()
    const many = await Promise.all(Array.from({ length: 100 }, (_, i) => silentSocket(port, `127.0.6.${10 + (i % 25)}`)))
    await waitFor(() => many.filter((s) => s.closed()).length === 100 - (OUTSIDER_SHARE - 5), 2000, 'the sockets over the share to be closed')
    assert.equal((await metricValue(connectionsRefused, { listener: 'submissions', reason: 'outsiders_full' })) - shareBefore, 75)
    // A customer's TLS session still comes up from the reserve.
    const customer = await SmtpDialog.open({ port, implicitTls: true })
    assert.equal((await customer.greeting).code, 220)
    await customer.quit()
    // Every silent socket is closed at tls_handshake_timeout (1 s), not after idle_timeout (5 min).
    await waitFor(() => [...one, ...many].every((s) => s.closed()), 5000, 'the silent sockets to be closed')
    assert.ok(Date.now() - started >= 900, `closed after ${Date.now() - started} ms`)
    assert.equal((await metricValue(connectionsTimedOut, { listener: 'submissions', phase: 'tls_handshake' })) - timedOutBefore, OUTSIDER_SHARE)
  })
})

describe('connection shares behind a load balancer (PROXY protocol)', () => {
  const BALANCER = '127.0.0.5'
  const env = relayWithSink({}, (p) => {
        const out = p.instances.outbound
        ;(out.listeners as PolicyTree[]).push({ name: 'lb', address: '127.0.0.1', port: 0, tls: 'none', proxy_from: [`${BALANCER}/32`] })
        out.relay.networks = ['127.0.0.1/32', '198.51.100.0/24']
        out.limits = { connections_per_listener: 6, reserved_for_customers: 2, outsider_connections_per_address: 2, drain_timeout: '2s' }
      }, { instances: ['outbound'] })

  /** A connection from the load balancer for `client`; `header: false` sends no header yet. */
  async function through(client: string | false): Promise<SmtpDialog> {
    const c = await SmtpDialog.open({ port: env.relay.port('lb'), localAddress: BALANCER })
    if (client) c.write(new V1ProxyProtocol(INETProtocol.TCP4, new Peer(client, 40000), new Peer('127.0.0.1', 25)).build())
    return c
  }

  it('counts the client the header names, and a connection still waiting for its header in the total', async () => {
    const a = [await through('192.0.2.7'), await through('192.0.2.7')]
    for (const c of a) assert.equal((await c.greeting).code, 220)
    const third = await through('192.0.2.7')
    assert.match((await third.greeting).line, /^421 4\.7\.0 Too many connections from your address at once \(limit 2\)/)
    // Two more outsiders fill the outsiders' share of 4.
    const others = [await through('192.0.2.8'), await through('192.0.2.9')]
    for (const c of others) assert.equal((await c.greeting).code, 220)
    assert.match((await (await through('192.0.2.10')).greeting).line, /^421 4\.3\.2 Too many connections to this service/)
    // A connection whose header is still to come holds the fifth; a customer the header names gets the sixth.
    const silent = await through(false)
    silent.greeting.catch(() => undefined)
    const customer = await through('198.51.100.1')
    assert.equal((await customer.greeting).code, 220)
    assert.match((await (await through('198.51.100.2')).greeting).line, /^421 4\.3\.2 Too many connections to this service/)
    for (const c of [...a, ...others, silent, customer]) c.destroy()
  })
})

describe('STARTTLS handshake deadline', () => {
  const env = relayWithSink({}, (p) => (p.instances.outbound.limits = { tls_handshake_timeout: '1s', drain_timeout: '2s' }), { instances: ['outbound'] })

  it('closes a connection whose TLS handshake after STARTTLS does not complete within tls_handshake_timeout', async () => {
    const before = await metricValue(connectionsTimedOut, { listener: 'submission', phase: 'tls_handshake' })
    const c = await SmtpDialog.open({ port: env.relay.port('submission'), localAddress: '127.0.8.9' })
    await c.greeting
    await c.cmd('EHLO slow.test')
    assert.equal((await c.cmd('STARTTLS')).code, 220)
    const started = Date.now()
    // A ClientHello that never completes: a record header for 512 bytes, then a byte now and then.
    c.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]))
    const timer = setInterval(() => c.write(Buffer.from([0])), 100)
    await waitFor(() => c.closed, 5000, 'the connection to close')
    clearInterval(timer)
    assert.ok(Date.now() - started >= 900, `closed after ${Date.now() - started} ms`)
    assert.equal((await metricValue(connectionsTimedOut, { listener: 'submission', phase: 'tls_handshake' })) - before, 1)
  })
})

describe('session deadlines that trickled bytes cannot extend', () => {
  const env = relayWithSink({}, (p) => {
        p.instances.outbound.limits = { greeting_timeout: '500ms', idle_timeout: '1s', data_timeout: '1500ms', data_min_rate: 0, drain_timeout: '2s' }
        p.instances.inbound.limits = { idle_timeout: '1s', data_timeout: '1m', data_min_rate: 100, drain_timeout: '2s' }
      })

  /** Writes one byte of `text` every `everyMs` until the connection closes; resolves then. */
  function trickle(c: SmtpDialog, text: string, everyMs: number): void {
    let i = 0
    const timer = setInterval(() => {
      if (c.closed) return clearInterval(timer)
      c.write(text[i++ % text.length] ?? 'x')
    }, everyMs)
    timer.unref()
  }

  it('answers 421 4.4.2 to a client that sends no command within greeting_timeout, and hangs up', async () => {
    const started = Date.now()
    const c = await SmtpDialog.open({ port: env.relay.port('submission'), localAddress: '127.0.8.1' })
    assert.equal((await c.greeting).code, 220)
    const r = await c.read(5000)
    assert.match(r.line, /^421 4\.4\.2 No command received within 0\.5 s of the greeting; closing the connection, send EHLO right after the 220; see \S+greeting-timeout$/)
    assert.ok(Date.now() - started >= 450, `cut after ${Date.now() - started} ms`)
    await waitFor(() => c.closed, 2000, 'the connection to close')
  })

  it('cuts a first command trickled a byte at a time at greeting_timeout', async () => {
    const c = await SmtpDialog.open({ port: env.relay.port('submission'), localAddress: '127.0.8.2' })
    assert.equal((await c.greeting).code, 220)
    trickle(c, 'EHLO slow.test', 100)
    const r = await c.read(5000)
    assert.match(r.line, /^421 4\.4\.2 No command received within 0\.5 s/)
  })

  it('cuts a command line trickled a byte at a time at idle_timeout after the previous reply', async () => {
    const c = await SmtpDialog.open({ port: env.relay.port('submission') })
    await c.greeting
    assert.equal((await c.cmd('EHLO office.test')).code, 250)
    const started = Date.now()
    trickle(c, 'MAIL FROM:<boss@customer.test>', 100)
    const r = await c.read(5000)
    assert.match(r.line, /^421 4\.4\.2 No complete command received within 1 s; closing the connection/)
    assert.ok(Date.now() - started >= 900, `cut after ${Date.now() - started} ms`)
  })

  it('cuts DATA trickled a byte at a time at data_timeout, and relays nothing', async () => {
    const c = await SmtpDialog.open({ port: env.relay.port('submission') })
    await c.greeting
    await c.cmd('EHLO office.test')
    assert.equal((await c.cmd('MAIL FROM:<boss@customer.test>')).code, 250)
    assert.equal((await c.cmd('RCPT TO:<partner@ext.test>')).code, 250)
    assert.equal((await c.cmd('DATA')).code, 354)
    const started = Date.now()
    const received = env.sink.messages.length
    // 10 bytes/s with line ends: each line well within idle_timeout, each byte restarting an idle timer.
    trickle(c, 'Subject: slow\r\n', 100)
    const r = await c.read(5000)
    assert.match(r.line, /^421 4\.4\.2 Message data not complete within 1\.5 s; closing the connection, nothing was relayed/)
    assert.ok(Date.now() - started >= 1400, `cut after ${Date.now() - started} ms`)
    await waitFor(() => c.closed, 2000, 'the connection to close')
    assert.equal(env.sink.messages.length, received)
  })

  it('cuts DATA arriving slower than data_min_rate once its allowance (idle_timeout) is used up', async () => {
    const c = await SmtpDialog.open({ port: env.relay.port('mx'), localAddress: '127.0.8.3' })
    await c.greeting
    await c.cmd('EHLO mx.sender.test')
    assert.equal((await c.cmd('MAIL FROM:<someone@sender.test>')).code, 250)
    assert.equal((await c.cmd('RCPT TO:<alice@example.org>')).code, 250)
    assert.equal((await c.cmd('DATA')).code, 354)
    const started = Date.now()
    trickle(c, 'Subject: slow\r\n', 100)
    const r = await c.read(5000)
    assert.match(r.line, /^421 4\.4\.2 Message data arriving slower than 100 bytes\/s; closing the connection, nothing was relayed/)
    const took = Date.now() - started
    // 10 bytes/s earn 0.1 s per s: the 1 s allowance lasts about 1.1 s.
    assert.ok(took >= 1000 && took < 3000, `cut after ${took} ms`)
  })

  it('lets a client that sends at an ordinary pace through', async () => {
    const c = await SmtpDialog.open({ port: env.relay.port('mx'), localAddress: '127.0.8.4' })
    await c.greeting
    await c.cmd('EHLO mx.sender.test')
    const r = await c.send('someone@sender.test', ['alice@example.org'], message('ordinary', 'x'.repeat(50_000) + '\r\n'))
    assert.match(r.end?.line ?? '', /^250 /)
    await c.quit()
  })
})

describe('connection places after STARTTLS', () => {
  const env = relayWithSink({}, (p) => {
    p.instances.outbound.limits = { outsider_connections_per_address: 2, drain_timeout: '2s' }
  })

  it('gives back an outsider’s place when a STARTTLS session ends, so sessions one after another are all greeted', async () => {
    for (let i = 0; i < 5; i++) {
      const c = await SmtpDialog.open({ port: env.relay.port('submission'), localAddress: '127.0.8.20' })
      assert.equal((await c.greeting).code, 220, `session ${i + 1}`)
      await c.cmd('EHLO pc.test')
      await c.starttls()
      await c.quit()
      await waitFor(() => c.closed, 5000, 'the session to close')
    }
  })
})
