import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { analyzeName, encodingOf } from '../../src/dns/dynamic-name.js'

// Reverse DNS names as ISPs write them for their dynamic and residential lines, with the
// address each one names.
const DYNAMIC: [string, string, string | null][] = [
  ['pool-71-185-22-3.phlapa.fios.verizon.net', '71.185.22.3', 'dashed'],
  ['c-73-15-42-101.hsd1.ca.comcast.net', '73.15.42.101', 'dashed'],
  ['cpe-24-90-12-3.nyc.res.rr.com', '24.90.12.3', 'dashed'],
  ['024-180-026-043.res.spectrum.com', '24.180.26.43', 'dashed'],
  ['dsl-189-154-3-27-dyn.prod-infinitum.com.mx', '189.154.3.27', 'dashed'],
  ['ppp-94-66-5-150.home.otenet.gr', '94.66.5.150', 'dashed'],
  ['host86-128-17-23.range86-128.btcentralplus.com', '86.128.17.23', 'dashed'],
  ['adsl-75-18-220-160.dsl.pltn13.sbcglobal.net', '75.18.220.160', 'dashed'],
  ['modemcable002.35-21-96.mc.videotron.ca', '96.21.35.2', 'mixed'],
  ['24.233.35.23.dyn.isp.example', '24.233.35.23', 'dotted'],
  ['23.35.233.24.adsl.isp.example', '24.233.35.23', 'dotted'],
  ['ip5f5a9c2b.dynamic.kabel-deutschland.de', '95.90.156.43', 'hex'],
  ['p5DD0A4B1.dip0.t-ipconnect.de', '93.208.164.177', 'hex'],
  ['ip192000002007.cust.isp.example', '192.0.2.7', 'run-together'],
  ['bzq-79-177-130-83.red.bezeqint.net', '79.177.130.83', 'dashed'],
  ['188-27-133-70.rdsnet.ro', '188.27.133.70', 'dashed'],
  ['dynamic-acs-24-154-100-52.zoominternet.net', '24.154.100.52', 'dashed'],
  ['pc7.dyn.isp.example', '192.0.2.7', null],
  ['dhcp-123.campus.example.edu', '198.51.100.123', null],
  ['cable-5-9.pool.isp.example', '203.0.113.9', null],
  ['2001-db8-0-0-1c4f-ff-fe12-3456.dyn.isp.example', '2001:db8::1c4f:ff:fe12:3456', 'dashed'],
]

// Names of mail servers and static lines: not dynamic, whatever digits they hold.
const NOT_DYNAMIC: [string, string][] = [
  ['mail.example.com', '192.0.2.25'],
  ['mx1.isp.example', '192.0.2.26'],
  ['mail-wr1-f44.google.com', '209.85.221.44'],
  ['a27-123.smtp-out.amazonses.com', '54.240.27.123'],
  ['static-198-51-100-20.business.isp.example', '198.51.100.20'],
  ['mail.home.example.com', '192.0.2.30'],
  ['exchange01.customer.example', '192.0.2.31'],
]

describe('dynamic-looking host names', () => {
  for (const [name, address, encoding] of DYNAMIC) {
    it(`${name} (${address}) is dynamic${encoding ? `, address written ${encoding}` : ''}`, () => {
      const a = analyzeName(name, address)
      assert.equal(a.encoding, encoding)
      assert.equal(a.dynamic, true)
    })
  }
  for (const [name, address] of NOT_DYNAMIC) {
    it(`${name} (${address}) is not dynamic`, () => {
      assert.equal(analyzeName(name, address).dynamic, false)
    })
  }

  it('a static label wins over an address written in the name, which is still reported', () => {
    const a = analyzeName('static-198-51-100-20.business.isp.example', '198.51.100.20')
    assert.equal(a.encoding, 'dashed')
    assert.equal(a.static, true)
  })

  it('names the dynamic labels it found', () => {
    assert.deepEqual(analyzeName('dsl-189-154-3-27-dyn.prod-infinitum.com.mx', '189.154.3.27').labels, ['dsl', 'dyn'])
  })

  it('does not see an address that is not the client\u2019s', () => {
    assert.equal(encodingOf('pool-71-185-22-3.phlapa.fios.verizon.net', '71.185.22.4'), null)
    assert.equal(encodingOf('ip5f5a9c2b.example', '95.90.156.44'), null)
  })

  it('reads IPv4-mapped IPv6 client addresses as IPv4', () => {
    assert.equal(encodingOf('c-73-15-42-101.hsd1.ca.comcast.net', '::ffff:73.15.42.101'), 'dashed')
  })
})
