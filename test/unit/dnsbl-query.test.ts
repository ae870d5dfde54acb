import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { pino } from 'pino'
import { dnsListsSchema } from '../../src/config/dns-lists-schema.js'
import { DnsLists } from '../../src/dns/dns-lists.js'
import { domainQueryName, ipQueryName } from '../../src/dns/dnsbl-query.js'
import { createResolver } from '../../src/dns/resolver.js'
import { parseCodePattern, ReturnCodes } from '../../src/dns/return-codes.js'

describe('DNS list query names', () => {
  it('reverses IPv4 octets (RFC 5782 section 2.1)', () => {
    assert.equal(ipQueryName('192.0.2.99', 'bad.example.com'), '99.2.0.192.bad.example.com')
    assert.equal(ipQueryName('::ffff:192.0.2.99', 'bad.example.com'), '99.2.0.192.bad.example.com')
  })

  it('writes IPv6 addresses as 32 reversed nibbles (RFC 5782 section 2.4, its own example)', () => {
    assert.equal(
      ipQueryName('2001:DB8:abc:123::42', 'bad.example.com'),
      '2.4.0.0.0.0.0.0.0.0.0.0.0.0.0.0.3.2.1.0.c.b.a.0.8.b.d.0.1.0.0.2.bad.example.com',
    )
    assert.equal(ipQueryName('::1', 'l.test'), `1.${'0.'.repeat(31)}l.test`)
    assert.throws(() => ipQueryName('not-an-ip', 'l.test'))
  })

  it('looks domains up as they are, in ASCII, and refuses what is not a domain', () => {
    assert.equal(domainQueryName('Example.COM.', 'dbl.test'), 'example.com.dbl.test')
    assert.equal(domainQueryName('bücher.example', 'dbl.test'), 'xn--bcher-kva.example.dbl.test')
    assert.equal(domainQueryName('localhost', 'dbl.test'), null)
    assert.equal(domainQueryName('[192.0.2.1]', 'dbl.test'), null)
    assert.equal(domainQueryName('192.0.2.1', 'dbl.test'), null)
  })
})

describe('DNS lists as the checks and the egress watch use them', () => {
  const lists = new DnsLists(
    dnsListsSchema.parse({
      lists: {
        zen: { zone: 'zen.example', url: 'https://lists.example/q?ip={query}' },
        v4only: { zone: 'v4.example', ipv6: false },
        dbl: { zone: 'dbl.example', type: 'domain', url: 'https://lists.example/d/{query}' },
      },
    }),
    createResolver({ servers: ['127.0.0.1:1'], timeoutMs: 100, tries: 1 }),
    pino({ level: 'silent' }),
  )
  const list = (name: string) => lists.get(name)!

  it('takes an address it can be asked about: IPv4 (mapped or not) always, IPv6 where the list takes it, nothing in a domain list', () => {
    assert.equal(list('zen').accepts('192.0.2.1'), true)
    assert.equal(list('zen').accepts('2001:db8::1'), true)
    assert.equal(list('v4only').accepts('::ffff:192.0.2.1'), true)
    assert.equal(list('v4only').accepts('2001:db8::1'), false)
    assert.equal(list('dbl').accepts('192.0.2.1'), false)
  })

  it('fills the lookup URL with the query, URI-encoded, and has none without a url', () => {
    assert.equal(list('zen').lookupUrl('2001:db8::1'), 'https://lists.example/q?ip=2001%3Adb8%3A%3A1')
    assert.equal(list('dbl').lookupUrl('spammer.example'), 'https://lists.example/d/spammer.example')
    assert.equal(list('v4only').lookupUrl('192.0.2.1'), null)
  })
})

describe('DNS list return codes', () => {
  const zen = new ReturnCodes('zen', {
    '127.0.0.2': 'SBL',
    '127.0.0.3': 'CSS',
    '127.0.0.4-127.0.0.7': 'XBL',
    '127.0.0.9': 'DROP',
    '127.0.0.10-127.0.0.11': 'PBL',
  })

  it('names the sub-lists of a combined list, one per answer', () => {
    assert.deepEqual(zen.classify(['127.0.0.4']), { subLists: ['XBL'], codes: ['127.0.0.4'], errors: [] })
    assert.deepEqual(zen.classify(['127.0.0.11', '127.0.0.2', '127.0.0.10']).subLists, ['PBL', 'SBL'])
  })

  it('names an unmapped code by itself, and every code by the list without a map', () => {
    assert.deepEqual(zen.classify(['127.0.0.8']).subLists, ['127.0.0.8'])
    assert.deepEqual(new ReturnCodes('barracuda', {}).classify(['127.0.0.2']).subLists, ['barracuda'])
  })

  it('takes answers outside 127.0.0.0/8 and Spamhaus\u2019s 127.255.255.x refusals as errors, not listings', () => {
    assert.deepEqual(zen.classify(['127.255.255.254', '198.51.100.7']), { subLists: [], codes: [], errors: ['127.255.255.254', '198.51.100.7'] })
  })

  it('matches octet wildcards (dnswl.org trust levels)', () => {
    const wl = new ReturnCodes('wl', { '127.0.*.3': 'HI', '127.0.*.1': 'LOW' })
    assert.deepEqual(wl.classify(['127.0.15.3']).subLists, ['HI'])
    assert.deepEqual(wl.classify(['127.0.15.1']).subLists, ['LOW'])
    assert.deepEqual(wl.classify(['127.0.15.2']).subLists, ['127.0.15.2'])
  })

  it('refuses malformed patterns', () => {
    for (const bad of ['127.0.0', '127.0.0.256', '127.0.0.9-127.0.0.2', '127.0.*.0-127.0.0.2', 'a.b.c.d', '127.0.0.1/24']) {
      assert.equal(parseCodePattern(bad), null, bad)
    }
  })
})
