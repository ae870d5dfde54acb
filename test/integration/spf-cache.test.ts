import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createResolver } from '../../src/dns/resolver.js'
import type { Resolver } from '../../src/dns/resolver.js'
import { evaluateSpf } from '../../src/dns/spf.js'
import type { SpfQuery } from '../../src/dns/spf.js'
import { startDnsServer } from '../helpers/dns-server.js'
import type { TestDnsServer } from '../helpers/dns-server.js'
import { waitFor } from '../helpers/relay.js'

// SPF results are kept for as long as the records they were built from: a repeat sender is
// answered without asking the resolver again (its evaluation would parse the records and match
// the address each time).

/** The relay's resolver, counting the lookups made through it. */
function counted(inner: Resolver): Resolver & { lookups: number; remainingTtlMs(name: string, rrtype: string): number } {
  return {
    lookups: 0,
    resolve(name, rrtype, opts) {
      this.lookups++
      return inner.resolve(name, rrtype, opts)
    },
    remainingTtlMs: (name, rrtype) => inner.remainingTtlMs?.(name, rrtype) ?? 0,
    reverse: (address) => inner.reverse(address),
    servers: () => inner.servers(),
    cacheEntries: () => inner.cacheEntries(),
  }
}

const query = (sender: string, ip = '192.0.2.10', identity: SpfQuery['identity'] = 'mailfrom'): SpfQuery => ({
  sender,
  identity,
  ip,
  helo: 'client.test',
  hostname: 'relay.test',
})

describe('SPF result cache', () => {
  let dns: TestDnsServer
  const resolver = () => counted(createResolver({ servers: [dns.server], timeoutMs: 500, tries: 1 }))

  before(async () => {
    dns = await startDnsServer({
      extra: [
        {
          ttl: 300,
          names: {
            'cached.test': { TXT: ['v=spf1 ip4:192.0.2.0/24 -all'] },
            'short.test': { ttl: 1, TXT: ['v=spf1 ip4:192.0.2.0/24 -all'] },
            'macro.test': { TXT: ['v=spf1 exists:%{l}.allow.macro.test -all'] },
            'alice.allow.macro.test': { A: ['127.0.0.2'] },
            'broken.test': 'SERVFAIL',
          },
        },
      ],
    })
  })
  after(() => dns.close())

  it('answers a repeat sender of a domain from the cache, with that sender in the comment', async () => {
    const r = resolver()
    const first = await evaluateSpf(r, query('alice@cached.test'), 2000)
    const lookups = r.lookups
    const second = await evaluateSpf(r, query('bob@cached.test'), 2000)
    assert.equal(first.result, 'pass')
    assert.equal(second.result, 'pass')
    assert.equal(r.lookups, lookups, 'no lookup for the repeat')
    assert.equal(second.comment, 'relay.test: domain of bob@cached.test designates 192.0.2.10 as permitted sender')
    assert.equal(second.domain, 'cached.test')
  })

  it('evaluates another client address or identity afresh', async () => {
    const r = resolver()
    await evaluateSpf(r, query('alice@cached.test'), 2000)
    const lookups = r.lookups
    assert.equal((await evaluateSpf(r, query('alice@cached.test', '198.51.100.7'), 2000)).result, 'fail')
    assert.equal((await evaluateSpf(r, query('postmaster@cached.test', '192.0.2.10', 'helo'), 2000)).result, 'pass')
    assert.equal(r.lookups, lookups + 2)
  })

  it('keys a domain whose record uses macros on the whole sender', async () => {
    const r = resolver()
    assert.equal((await evaluateSpf(r, query('alice@macro.test'), 2000)).result, 'pass')
    assert.equal((await evaluateSpf(r, query('bob@macro.test'), 2000)).result, 'fail')
    const lookups = r.lookups
    assert.equal((await evaluateSpf(r, query('alice@macro.test'), 2000)).result, 'pass')
    assert.equal(r.lookups, lookups, 'alice again comes from the cache')
  })

  it('never keeps a temperror', async () => {
    const r = resolver()
    assert.equal((await evaluateSpf(r, query('a@broken.test'), 2000)).result, 'temperror')
    const lookups = r.lookups
    assert.equal((await evaluateSpf(r, query('a@broken.test'), 2000)).result, 'temperror')
    assert.ok(r.lookups > lookups, 'evaluated again')
  })

  it('keeps nothing when the resolver caches nothing', async () => {
    const r = counted(createResolver({ servers: [dns.server], timeoutMs: 500, tries: 1, cache: { maxEntries: 0, maxTtlMs: 0, negativeTtlMs: 0 } }))
    await evaluateSpf(r, query('alice@cached.test'), 2000)
    const lookups = r.lookups
    await evaluateSpf(r, query('alice@cached.test'), 2000)
    assert.equal(r.lookups, lookups + 1)
  })

  it('evaluates again once the record’s TTL has run out', async () => {
    const r = resolver()
    await evaluateSpf(r, query('alice@short.test'), 2000)
    const lookups = r.lookups
    await evaluateSpf(r, query('alice@short.test'), 2000)
    assert.equal(r.lookups, lookups, 'within the TTL')
    await waitFor(() => r.remainingTtlMs('short.test', 'TXT') === 0, 3000, 'the 1 s TTL to run out')
    await evaluateSpf(r, query('alice@short.test'), 2000)
    assert.equal(r.lookups, lookups + 1)
  })
})
