import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { HEAP_GROWING_PERCENT, heapFlags } from '../../src/heap.js'

describe('heap policy', () => {
  it('sets the growing factor when the operator did not', () => {
    assert.deepEqual(heapFlags([], ''), [`--heap-growing-percent=${HEAP_GROWING_PERCENT}`])
    assert.deepEqual(heapFlags(['--max-semi-space-size=64', '--import', 'tsx'], '--enable-source-maps'), [`--heap-growing-percent=${HEAP_GROWING_PERCENT}`])
  })

  it("keeps the operator's own factor, from the command line or NODE_OPTIONS, in either spelling", () => {
    assert.deepEqual(heapFlags(['--heap-growing-percent=200'], ''), [])
    assert.deepEqual(heapFlags(['--heap_growing_percent=20'], undefined), [])
    assert.deepEqual(heapFlags([], '--max-old-space-size=512 --heap-growing-percent=100'), [])
  })

  it('is not fooled by a flag that only starts alike', () => {
    assert.deepEqual(heapFlags(['--heap-growing-percentage'], '--no-heap-growing-percent --heap-growing-percent-x=1'), [`--heap-growing-percent=${HEAP_GROWING_PERCENT}`])
    assert.deepEqual(heapFlags(['--heap-growing-percent', '80'], ''), [])
  })
})
