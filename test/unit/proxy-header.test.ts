import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Command, IPv4Address, IPv4ProxyAddress, TransportProtocol, V2ProxyProtocol } from 'proxy-protocol-js'
import { parseProxyHeader, ProxyHeaderError } from '../../src/smtp/proxy-protocol.js'

const v2 = (command: Command) =>
  Buffer.from(
    new V2ProxyProtocol(
      command,
      TransportProtocol.STREAM,
      new IPv4ProxyAddress(IPv4Address.createFrom([192, 0, 2, 7]), 40000, IPv4Address.createFrom([198, 51, 100, 1]), 25),
    ).build(),
  )

describe('PROXY protocol header framing', () => {
  it('reads a v1 line and says how many bytes it took', () => {
    const buf = Buffer.from('PROXY TCP4 192.0.2.7 198.51.100.1 40000 25\r\nEHLO x\r\n')
    assert.deepEqual(parseProxyHeader(buf), { header: { version: 1, source: { address: '192.0.2.7', port: 40000 } }, length: 44 })
    assert.deepEqual(parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\n'))?.header, { version: 1, source: null })
  })

  it('reads a v2 header, and LOCAL (a health check) as no client', () => {
    const header = v2(Command.PROXY)
    assert.deepEqual(parseProxyHeader(Buffer.concat([header, Buffer.from('EHLO')])), {
      header: { version: 2, source: { address: '192.0.2.7', port: 40000 } },
      length: header.length,
    })
    assert.deepEqual(parseProxyHeader(v2(Command.LOCAL))?.header, { version: 2, source: null })
  })

  it('waits for more bytes while a header is incomplete', () => {
    assert.equal(parseProxyHeader(Buffer.from('PROX')), null)
    assert.equal(parseProxyHeader(Buffer.from('PROXY TCP4 192.0.2.7')), null)
    assert.equal(parseProxyHeader(v2(Command.PROXY).subarray(0, 20)), null)
  })

  it('refuses anything else', () => {
    assert.throws(() => parseProxyHeader(Buffer.from('EHLO pc.test\r\n')), ProxyHeaderError)
    assert.throws(() => parseProxyHeader(Buffer.from('PROXY TCP4 ' + 'x'.repeat(120))), /107 bytes/)
    assert.throws(() => parseProxyHeader(Buffer.from('PROXY TCP6 192.0.2.7 198.51.100.1 40000 25\r\n')), /bad TCP6 source/)
  })
})
