import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { growingLru } from '../../src/lru.js'

describe('growingLru', () => {
  it('holds at most its bound and evicts the least recently used first, as a cache bounded by max does', () => {
    const cache = growingLru<string, number>(3)
    for (const k of ['a', 'b', 'c']) cache.set(k, k.charCodeAt(0))
    assert.equal(cache.get('a'), 97) // a is now the most recently used
    cache.set('d', 100)
    assert.equal(cache.size, 3)
    assert.deepEqual([...cache.keys()].sort(), ['a', 'c', 'd'])
    cache.set('b', 98)
    assert.deepEqual([...cache.keys()].sort(), ['a', 'b', 'd'])
  })

  it('counts every entry as one, whatever its value', () => {
    const cache = growingLru<string, string>(2)
    cache.set('big', 'x'.repeat(10_000))
    cache.set('small', '')
    assert.equal(cache.size, 2)
    assert.equal(cache.get('big')?.length, 10_000)
  })

  it('passes its other options through: an entry past its ttl is gone', () => {
    // lru-cache reads a start time of 0 as "no start": the clock begins later.
    let now = 1000
    const cache = growingLru<string, number>(10, { ttl: 1, ttlResolution: 0, perf: { now: () => now } })
    cache.set('k', 1, { ttl: 100 })
    now = 1099
    assert.equal(cache.get('k'), 1)
    now = 1101
    assert.equal(cache.get('k'), undefined)
  })
})
