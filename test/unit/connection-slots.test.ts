import assert from 'node:assert/strict'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { configIssues, parsePolicy } from '../../src/config/load.js'
import { reservedConnections } from '../../src/config/schema.js'
import { ConnectionSlots } from '../../src/limits/connection-slots.js'

describe('connection shares of a listener', () => {
  const limits = { total: 5, reserved: 2, perAddress: 2 }

  it('gives outsiders only the part not reserved, and customers every connection', () => {
    const slots = new ConnectionSlots(() => limits)
    assert.equal(typeof slots.admit('a', '192.0.2.1', false), 'object')
    assert.equal(typeof slots.admit('b', '192.0.2.2', false), 'object')
    assert.equal(typeof slots.admit('c', '192.0.2.3', false), 'object')
    assert.equal(slots.admit('d', '192.0.2.4', false), 'outsiders_full')
    assert.equal(typeof slots.admit('e', '10.0.0.1', true), 'object')
    assert.equal(typeof slots.admit('f', '10.0.0.1', true), 'object')
    assert.equal(slots.admit('g', '10.0.0.1', true), 'listener_full')
    slots.release('a')
    assert.equal(typeof slots.admit('h', '192.0.2.4', false), 'object')
  })

  it('caps each outsider address, not customers, and forgets an address with its last connection', () => {
    const slots = new ConnectionSlots(() => ({ total: 100, reserved: 0, perAddress: 2 }))
    slots.admit('a', '192.0.2.1', false)
    slots.admit('b', '192.0.2.1', false)
    assert.equal(slots.admit('c', '192.0.2.1', false), 'address_full')
    assert.equal(typeof slots.admit('d', '192.0.2.1', true), 'object')
    slots.release('a')
    slots.release('b')
    assert.equal(typeof slots.admit('e', '192.0.2.1', false), 'object')
    assert.equal(slots.outsiders, 1)
  })

  it('counts a connection whose client is not known yet in the total only', () => {
    const slots = new ConnectionSlots(() => ({ total: 2, reserved: 1, perAddress: 1 }))
    assert.equal(typeof slots.admit('p', null, false), 'object')
    assert.equal(slots.outsiders, 0)
    assert.equal(typeof slots.admit('a', '192.0.2.1', false), 'object')
    assert.equal(slots.admit('b', '10.0.0.1', true), 'listener_full')
    slots.release('p')
    assert.equal(typeof slots.admit('b', '10.0.0.1', true), 'object')
  })

  it('moves an authenticated connection from the outsiders\u2019 share and its address\u2019s count to the customers\u2019', () => {
    const slots = new ConnectionSlots(() => ({ total: 3, reserved: 1, perAddress: 1 }))
    slots.admit('a', '192.0.2.1', false)
    assert.equal(slots.admit('b', '192.0.2.1', false), 'address_full')
    slots.authenticated('a')
    assert.equal(slots.outsiders, 0)
    assert.equal(typeof slots.admit('b', '192.0.2.1', false), 'object')
    assert.equal(typeof slots.admit('c', '192.0.2.2', false), 'object')
    assert.equal(slots.admit('d', '192.0.2.3', true), 'listener_full')
    slots.release('a')
    slots.release('a')
    assert.equal(slots.size, 2, 'a second release of one connection changes nothing')
  })
})

describe('reserved_for_customers', () => {
  const tree = (reserve: string, max = '') => `instances:
  outbound:
    listeners:
      - name: submission
        address: 127.0.0.1
        port: 2525
        auth: true${max}
    relay: { credentials: users.passwd }
    next_hops: [127.0.0.1:2500]
    limits: { connections_per_listener: 100, reserved_for_customers: ${reserve} }
`

  it('is a count or a percentage of the listener\u2019s connections', () => {
    assert.equal(reservedConnections({ count: 30 }, 100), 30)
    assert.equal(reservedConnections({ percent: 20 }, 50), 10)
    assert.equal(reservedConnections({ count: 300 }, 100), 100)
  })

  it('may not leave an AUTH listener without room for the clients that have yet to authenticate', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'shg-slots-'))
    const file = join(dir, 'relay.yaml')
    const issues = async (text: string) => {
      try {
        await parsePolicy(file, text)
        return []
      } catch (err) {
        return (configIssues(err) ?? [String(err)]).map((i) => i.replace(file, 'relay.yaml'))
      }
    }
    assert.deepEqual(
      (await issues(tree('"100%"'))).filter((i) => i.includes('reserved_for_customers')),
      ['relay.yaml:10:70 instances.outbound.limits.reserved_for_customers: reserves all 100 connections of listener submission for customers, but clients that have yet to AUTH are not customers yet'],
    )
    assert.match((await issues(tree('"150%"'))).join('\n'), /reserved_for_customers: a percentage above 100: 150%/)
    assert.match((await issues(tree('ten'))).join('\n'), /reserved_for_customers: expected a count such as 100 or a percentage such as "20%"/)
    assert.match((await issues(tree('10', '\n        max_connections: 10'))).join('\n'), /reserves all 10 connections of listener submission/)
  })
})
