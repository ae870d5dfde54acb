import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { domainToUnicode } from 'node:url'
import { hasRoutingCharacters, normalizeDomain, splitAddress } from '../../src/relay/address.js'
import { LocalDomains } from '../../src/relay/local-domains.js'
import { NetworkList, unmapIPv4 } from '../../src/relay/networks.js'
import { matchesAddress } from '../../src/checks/access.js'

describe('addresses', () => {
  it('splits at the last @ and normalizes the domain', () => {
    assert.deepEqual(splitAddress('Alice@Example.NET'), { local: 'Alice', domain: 'example.net' })
    assert.deepEqual(splitAddress('postmaster'), { local: 'postmaster', domain: '' })
    assert.equal(normalizeDomain('xn--bcher-kva.example'), 'bücher.example')
    assert.equal(normalizeDomain('[127.0.0.1]'), '[127.0.0.1]')
  })

  it('normalizes a domain as the WHATWG host parser does, with or without its short cut', () => {
    // The plain-ASCII short cut must not change a result: numbers read as IPv4, percent
    // escapes, delimiters and A-labels go through domainToUnicode.
    const full = (d: string) => {
      const n = d.trim().replace(/\.$/, '').toLowerCase()
      return n.startsWith('[') ? n : domainToUnicode(n) || n
    }
    const cases = ['Example.COM', 'mail.example.co.uk.', 'a_b.example', '-x.example', 'a..b', '1.2.3', '0x7f.1', 'example.123', 'x.0x10', 'example.1a',
      '1..', '%77.example', 'a?b.example', 'a#b', 'a/b', 'a\\b', 'xn--bcher-kva.example', 'XN--BCHER-KVA.example', 'bücher.example', '']
    for (const d of cases) assert.equal(normalizeDomain(d), full(d), d)
  })

  it('sees sender-specified routing in a local part', () => {
    for (const l of ['u%ext.test', 'ext.test!u', '"u@ext"', 'ext:u']) assert.ok(hasRoutingCharacters(l), l)
    for (const l of ['alice', 'alice+tag', 'a.b-c_d']) assert.ok(!hasRoutingCharacters(l), l)
  })
})

describe('local domains', () => {
  const local = new LocalDomains({
    'example.net': {},
    'Example.ORG': { valid: ['alice', 'Bob'], invalid: ['root', 'bob'] },
    'xn--bcher-kva.example': { valid: ['info'] },
  })

  it('knows its domains in any case and in punycode or Unicode', () => {
    assert.ok(local.isLocal('example.org'))
    assert.ok(local.isLocal('bücher.example'))
    assert.ok(!local.isLocal('ext.test'))
    assert.ok(local.isLocal(''), 'the domainless postmaster is local when any domain is')
  })

  it('accepts every local part without a valid list, and only listed ones with one', () => {
    assert.equal(local.lookup('anyone@example.net'), 'valid')
    assert.equal(local.lookup('ALICE@example.org'), 'valid')
    assert.equal(local.lookup('alice+news@example.org'), 'valid')
    assert.equal(local.lookup('carol@example.org'), 'unknown')
    assert.equal(local.lookup('info@bücher.example'), 'valid')
  })

  it('lets the invalid list win over the valid list, and always knows postmaster', () => {
    assert.equal(local.lookup('bob@example.org'), 'unknown')
    assert.equal(local.lookup('root@example.org'), 'unknown')
    assert.equal(local.lookup('postmaster@example.org'), 'valid')
    assert.equal(local.lookup('postmaster'), 'valid')
  })

  it('refuses routing characters even where every local part is valid', () => {
    assert.equal(local.lookup('u%ext.test@example.net'), 'routing')
    assert.equal(local.lookup('"u%ext"@example.net'), 'routing')
  })
})

describe('networks', () => {
  const nets = new NetworkList(['192.0.2.0/24', '2001:db8::/32', '127.0.0.1'])
  it('matches IPv4, IPv6 and IPv4-mapped IPv6 addresses', () => {
    assert.ok(nets.has('192.0.2.77'))
    assert.ok(nets.has('::ffff:192.0.2.77'))
    assert.ok(nets.has('2001:db8:1::5'))
    assert.ok(nets.has('127.0.0.1'))
    assert.ok(!nets.has('127.0.0.2'))
    assert.ok(!nets.has('198.51.100.1'))
    assert.equal(unmapIPv4('::FFFF:10.0.0.1'), '10.0.0.1')
  })
})

describe('access patterns', () => {
  it('matches addresses, domains, subdomains, local parts and the null sender', () => {
    assert.ok(matchesAddress('bad@ext.test', 'BAD@ext.test'))
    assert.ok(matchesAddress('ext.test', 'x@ext.test'))
    assert.ok(matchesAddress('@ext.test', 'x@ext.test'))
    assert.ok(!matchesAddress('ext.test', 'x@sub.ext.test'))
    assert.ok(matchesAddress('.ext.test', 'x@sub.ext.test'))
    assert.ok(matchesAddress('info@', 'info@anywhere.test'))
    assert.ok(matchesAddress('<>', ''))
    assert.ok(!matchesAddress('<>', 'a@b.test'))
  })
})
