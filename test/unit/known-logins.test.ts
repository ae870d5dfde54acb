import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MemoryKnownLogins } from '../../src/limits/known-logins.js'

const DAY = 86_400_000

describe('known logins (memory)', () => {
  it('knows an address and its /24 after a login, another /24 not, and another user nothing', async () => {
    const logins = new MemoryKnownLogins(100)
    const bounds = { rememberMs: 30 * DAY, perUser: 5 }
    await logins.record('alice', '192.0.2.7', bounds)
    assert.deepEqual(await logins.lookup('alice', '192.0.2.7', bounds), { address: true, network: true })
    assert.deepEqual(await logins.lookup('alice', '::ffff:192.0.2.99', bounds), { address: false, network: true })
    assert.deepEqual(await logins.lookup('alice', '198.51.100.7', bounds), { address: false, network: false })
    assert.deepEqual(await logins.lookup('bob', '192.0.2.7', bounds), { address: false, network: false })
    await logins.record('alice', '2001:db8:1:2::7', bounds)
    assert.deepEqual(await logins.lookup('alice', '2001:db8:1:2:ffff::1', bounds), { address: false, network: true })
  })

  it('keeps at most per_user addresses (and as many networks) per user, the least recently used going first', async () => {
    const logins = new MemoryKnownLogins(100)
    const bounds = { rememberMs: 30 * DAY, perUser: 3 }
    for (let i = 1; i <= 4; i++) await logins.record('alice', `10.0.${i}.1`, bounds)
    assert.equal((await logins.lookup('alice', '10.0.1.1', bounds)).address, false, 'the oldest went')
    for (let i = 2; i <= 4; i++) assert.equal((await logins.lookup('alice', `10.0.${i}.1`, bounds)).address, true)
  })

  it('forgets a login older than remember, and users beyond its bound', async () => {
    const logins = new MemoryKnownLogins(2)
    await logins.record('alice', '192.0.2.7', { rememberMs: 30 * DAY, perUser: 5 })
    assert.equal((await logins.lookup('alice', '192.0.2.7', { rememberMs: -1, perUser: 5 })).address, false, 'a login older than remember is not known')
    await logins.record('bob', '192.0.2.8', { rememberMs: DAY, perUser: 5 })
    await logins.record('carol', '192.0.2.9', { rememberMs: DAY, perUser: 5 })
    assert.equal((await logins.lookup('alice', '192.0.2.7', { rememberMs: DAY, perUser: 5 })).address, false, 'the least recently seen user went')
  })
})
