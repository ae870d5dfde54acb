import assert from 'node:assert/strict'
import { BlockList, isIPv4 } from 'node:net'
import { describe, it } from 'node:test'
import { NetworkList } from '../../src/relay/networks.js'

describe('relay network lists', () => {
  it('match at the edges of IPv4 blocks', () => {
    const nets = new NetworkList(['192.0.2.0/24', '10.0.0.0/8', '198.51.100.7/32'])
    assert.ok(nets.has('192.0.2.0'))
    assert.ok(nets.has('192.0.2.255'))
    assert.ok(!nets.has('192.0.3.0'))
    assert.ok(!nets.has('192.0.1.255'))
    assert.ok(nets.has('10.255.255.255'))
    assert.ok(!nets.has('11.0.0.0'))
    assert.ok(nets.has('198.51.100.7'))
    assert.ok(!nets.has('198.51.100.6'))
  })

  it('match everything with /0 and one address with /32 and /128', () => {
    assert.ok(new NetworkList(['0.0.0.0/0']).has('255.255.255.255'))
    assert.ok(new NetworkList(['0.0.0.0/0']).has('0.0.0.0'))
    assert.ok(new NetworkList(['::/0']).has('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'))
    assert.ok(new NetworkList(['2001:db8::1/128']).has('2001:DB8:0:0:0:0:0:1'))
    assert.ok(!new NetworkList(['2001:db8::1/128']).has('2001:db8::2'))
  })

  it('match IPv6 prefixes that end inside a 32-bit word and on its edge', () => {
    const nets = new NetworkList(['2001:db8:8000::/33', '2001:db8:1:2::/64', 'fe80::/10'])
    assert.ok(nets.has('2001:db8:8000::1'))
    assert.ok(nets.has('2001:db8:ffff:ffff::1'))
    assert.ok(!nets.has('2001:db8:7fff::1'))
    assert.ok(nets.has('2001:db8:1:2:ffff:ffff:ffff:ffff'))
    assert.ok(!nets.has('2001:db8:1:3::'))
    assert.ok(nets.has('febf::1'))
    assert.ok(!nets.has('fec0::1'))
  })

  it('match IPv4-mapped IPv6 addresses against IPv4 blocks, dotted or in hex', () => {
    const nets = new NetworkList(['192.0.2.0/24'])
    assert.ok(nets.has('::ffff:192.0.2.77'))
    assert.ok(nets.has('::FFFF:192.0.2.77'))
    assert.ok(nets.has('::ffff:c000:24d'))
    assert.ok(nets.has('0:0:0:0:0:ffff:192.0.2.1'))
    assert.ok(!nets.has('::ffff:198.51.100.1'))
    assert.ok(!nets.has('::192.0.2.77'), 'IPv4-compatible is not IPv4-mapped')
    assert.ok(!nets.has('64:ff9b::192.0.2.77'), 'NAT64 is not IPv4-mapped')
  })

  it('match IPv4 addresses against blocks written as IPv4-mapped IPv6', () => {
    const nets = new NetworkList(['::ffff:192.0.2.0/120'])
    assert.ok(nets.has('192.0.2.9'))
    assert.ok(nets.has('::ffff:192.0.2.9'))
    assert.ok(!nets.has('192.0.3.9'))
  })

  it('say no to text that is not an address', () => {
    const nets = new NetworkList(['0.0.0.0/0', '::/0'])
    for (const bad of ['', 'garbage', '1.2.3', '1.2.3.4.5', '1.2.3.256', '01.2.3.4', '1..2.3', ':::', '1::2::3', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', 'fe80::1%eth0', '12345::1', '1:', ':1', '::ffff:1.2.3', 'g::1', '1:2:3:4:5:6:7:1.2.3.4']) {
      assert.equal(nets.has(bad), false, bad)
    }
  })

  it('answer as node’s BlockList does for random blocks and addresses', () => {
    let seed = 7
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff
      return seed % n
    }
    const v4 = () => [rnd(256), rnd(256), rnd(256), rnd(256)].join('.')
    // Few distinct words, so that random addresses often share a block's prefix.
    const v6 = () => Array.from({ length: 8 }, () => ['0', 'ffff', '2001', 'db8', '1', rnd(65536).toString(16)][rnd(6)]).join(':')
    for (let round = 0; round < 200; round++) {
      const cidrs = Array.from({ length: 3 }, () => (rnd(2) ? `${v4()}/${rnd(33)}` : `${v6()}/${rnd(129)}`))
      const ours = new NetworkList(cidrs)
      const theirs = new BlockList()
      for (const c of cidrs) {
        const [a = '', p] = c.split('/')
        theirs.addSubnet(a, Number(p), isIPv4(a) ? 'ipv4' : 'ipv6')
      }
      for (let k = 0; k < 50; k++) {
        const addr = rnd(3) === 0 ? v4() : rnd(2) ? v6() : `::ffff:${v4()}`
        assert.equal(ours.has(addr), theirs.check(addr, isIPv4(addr) ? 'ipv4' : 'ipv6'), `${addr} in ${cidrs.join(', ')}`)
      }
    }
  })
})
