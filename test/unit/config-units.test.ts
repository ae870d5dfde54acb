import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { byteSize, duration, formatBytes, formatDuration } from '../../src/config/units.js'

describe('units printer', () => {
  it('prints sizes in the largest whole unit, binary before decimal', () => {
    assert.equal(formatBytes(25 * 1024 ** 2), '25 MiB')
    assert.equal(formatBytes(1024 ** 3), '1 GiB')
    assert.equal(formatBytes(25_000_000), '25 MB')
    assert.equal(formatBytes(1536), '1536 B')
    assert.equal(formatBytes(0), '0 B')
  })

  it('prints durations in the largest whole unit', () => {
    assert.equal(formatDuration(2_592_000_000), '30 d')
    assert.equal(formatDuration(300_000), '5 m')
    assert.equal(formatDuration(90_000), '90 s')
    assert.equal(formatDuration(3_600_000), '1 h')
    assert.equal(formatDuration(250), '250 ms')
    assert.equal(formatDuration(0), '0 s')
  })

  it('prints what the parser reads back to the same value', () => {
    for (const bytes of [0, 1, 1000, 1024, 1536, 25 * 1024 ** 2, 25_000_000, 3 * 1024 ** 3]) {
      assert.equal(byteSize().parse(formatBytes(bytes)), bytes)
    }
    for (const ms of [0, 1, 250, 1500, 60_000, 86_400_000, 2_592_000_000]) {
      assert.equal(duration().parse(formatDuration(ms)), ms)
    }
  })
})
