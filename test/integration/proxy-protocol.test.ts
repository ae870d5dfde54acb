import assert from 'node:assert/strict'
import { once } from 'node:events'
import net from 'node:net'
import { after, before, describe, it } from 'node:test'
import { INETProtocol, IPv6Address, IPv6ProxyAddress, Command, Peer, TransportProtocol, V1ProxyProtocol, V2ProxyProtocol } from 'proxy-protocol-js'
import { startHaproxy } from '../helpers/haproxy.js'
import type { HaproxyFront } from '../helpers/haproxy.js'
import { relayWithSink, waitFor } from '../helpers/relay.js'
import type { PolicyTree } from '../helpers/relay.js'
import { message, SmtpDialog } from '../helpers/smtp-client.js'

// The relay's `lb` listener trusts PROXY headers from 127.0.0.5 only (the load balancer).
// Customers are played by other loopback addresses; HAProxy is the real load balancer.
const BALANCER = '127.0.0.5'

/** Connects from `localAddress`, writes `header` first, and returns the first reply line. */
async function firstReply(port: number, localAddress: string, header: Buffer | string, then = 'EHLO pc.test\r\n'): Promise<string> {
  const socket = net.connect({ host: '127.0.0.1', port, localAddress })
  await once(socket, 'connect')
  let text = ''
  socket.on('data', (d: Buffer) => (text += d.toString('latin1')))
  socket.on('error', () => undefined)
  socket.write(Buffer.concat([Buffer.from(header), Buffer.from(then)]))
  await waitFor(() => text.includes('\r\n') || socket.destroyed, 12_000, 'a reply')
  socket.destroy()
  return text.split('\r\n')[0] ?? ''
}

/** Every reply line the relay sends after `header` and an EHLO, until it closes the connection. */
async function repliesUntilClosed(port: number, localAddress: string, header: Buffer | string): Promise<string[]> {
  const socket = net.connect({ host: '127.0.0.1', port, localAddress })
  await once(socket, 'connect')
  let text = ''
  socket.on('data', (d: Buffer) => (text += d.toString('latin1')))
  socket.on('error', () => undefined)
  const closed = once(socket, 'close')
  socket.write(Buffer.concat([Buffer.from(header), Buffer.from('EHLO pc.test\r\n')]))
  await closed
  return text.split('\r\n').filter(Boolean)
}

const v1 = (source: string, family: INETProtocol = INETProtocol.TCP4) =>
  new V1ProxyProtocol(family, new Peer(source, 40000), new Peer('127.0.0.1', 25)).build()

const v2ipv6 = (bytes: number[]) =>
  Buffer.from(
    new V2ProxyProtocol(
      Command.PROXY,
      TransportProtocol.STREAM,
      new IPv6ProxyAddress(IPv6Address.createFrom(bytes), 40000, IPv6Address.createFrom([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]), 25),
    ).build(),
  )

describe('PROXY protocol v1 and v2 from the allowed load balancer only', () => {
  const env = relayWithSink({}, (p) => {
    const out = p.instances.outbound
    ;(out.listeners as PolicyTree[]).push({ name: 'lb', address: '127.0.0.1', port: 0, tls: 'none', proxy_from: [`${BALANCER}/32`] })
    out.relay.networks = ['127.0.0.0/8', '2001:db8::/32']
    out.classes = { networks: [{ class: 'residential-dynamic', cidrs: ['127.0.9.0/24', '2001:db8:7::/48'] }] }
  })
  let haproxy: HaproxyFront
  before(async () => {
    haproxy = await startHaproxy(env.relay.port('lb'), BALANCER)
  })
  after(() => haproxy.close())

  for (const version of ['v1', 'v2'] as const) {
    it(`takes the client address from HAProxy's send-proxy${version === 'v2' ? '-v2' : ''} header`, async () => {
      const port = version === 'v1' ? haproxy.v1Port : haproxy.v2Port
      const c = await SmtpDialog.open({ port, localAddress: '127.0.9.66' })
      assert.equal((await c.greeting).code, 220)
      await c.cmd('EHLO pc66.test')
      const r = await c.send('home@customer.test', ['x@ext.test'], message(`through haproxy ${version}`))
      await c.quit()
      assert.equal(r.end?.code, 250)
      const record = env.relay.logs.transactions().filter((t) => t.session.listener === 'lb').at(-1)
      assert.ok(record)
      assert.equal((record.session.client as { address: string }).address, '127.0.9.66')
      assert.equal(record.session.clientClass, 'residential-dynamic')
      const headers = env.relay.logs.lines.filter((l) => l.msg === 'PROXY protocol header') as { proxy: { version: number; from: string; client: string } }[]
      // (HAProxy also relays the probe connections of startHaproxy, from 127.0.0.1.)
      assert.ok(headers.some((h) => h.proxy.version === (version === 'v1' ? 1 : 2) && h.proxy.from === BALANCER && h.proxy.client === '127.0.9.66'))
      const received = env.sink.messages.at(-1)?.headers[0] ?? ''
      assert.match(received, /\[127\.0\.9\.66\]/)
    })
  }

  it('takes an IPv6 client from a v2 header sent by the load balancer itself', async () => {
    const bytes = [0x20, 0x01, 0x0d, 0xb8, 0, 7, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0x42]
    const c = await SmtpDialog.open({ port: env.relay.port('lb'), localAddress: BALANCER })
    c.write(v2ipv6(bytes))
    assert.equal((await c.greeting).code, 220)
    await c.cmd('EHLO v6.test')
    const r = await c.send('v6@customer.test', ['x@ext.test'], message('over v6'))
    await c.quit()
    assert.equal(r.end?.code, 250)
    const record = env.relay.logs.transactions().filter((t) => t.session.listener === 'lb').at(-1)
    assert.equal((record?.session.client as { address: string }).address, '2001:db8:7:1::42')
    assert.equal(record?.session.clientClass, 'residential-dynamic')
  })

  it('refuses a v1 or v2 header from any other address with 421 4.7.0', async () => {
    const refusal = '421 4.7.0 PROXY protocol header not accepted from your address; connect without it, or through the load balancer'
    // The header may arrive before or after the greeting (a race the client does not control):
    // either way its first reply after the header is the refusal, and no command is served.
    const refused = async (port: number, header: Buffer | string) => {
      const lines = await repliesUntilClosed(port, '127.0.9.70', header)
      assert.deepEqual(lines.filter((l) => !l.startsWith('220 ')), [refusal])
    }
    await refused(env.relay.port('lb'), v1('203.0.113.9'))
    await refused(env.relay.port('lb'), v2ipv6([0x20, 0x01, 0x0d, 0xb8, ...Array<number>(12).fill(1)]))
    // The same on a listener without proxy_from: no client chooses its own address.
    await refused(env.relay.port('submission'), v1('203.0.113.9'))
  })

  it('refuses a connection from the load balancer without a valid header with 421 4.7.0', async () => {
    const missing = '421 4.7.0 Expected a valid PROXY protocol (v1 or v2) header from this load balancer; check its send-proxy setting'
    assert.equal(await firstReply(env.relay.port('lb'), BALANCER, ''), missing)
    assert.equal(await firstReply(env.relay.port('lb'), BALANCER, 'PROXY TCP4 not-an-address 127.0.0.1 40000 25\r\n'), missing)
    assert.equal(await firstReply(env.relay.port('lb'), BALANCER, v1('2001:db8::1', INETProtocol.TCP4)), missing)
  })

  it('serves direct clients of the proxy listener as plain SMTP', async () => {
    const c = await SmtpDialog.open({ port: env.relay.port('lb'), localAddress: '127.0.9.71' })
    assert.equal((await c.greeting).code, 220)
    await c.cmd('EHLO direct.test')
    const r = await c.send('direct@customer.test', ['x@ext.test'], message('direct'))
    await c.quit()
    assert.equal(r.end?.code, 250)
  })
})
