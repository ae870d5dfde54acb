import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, it } from 'node:test'
import { SWEEP_MS, withDeadline } from '../../src/pipeline/deadlines.js'

class Late extends Error {}

describe('check deadlines', () => {
  it('passes on what the work settles with', async () => {
    assert.equal(await withDeadline(Promise.resolve(7), 1000, () => new Late()), 7)
    await assert.rejects(withDeadline(Promise.reject(new RangeError('boom')), 1000, () => new Late()), RangeError)
  })

  it('rejects work that outlives its deadline, soon after it passes', async () => {
    const started = performance.now()
    const never = new Promise<number>(() => undefined)
    await assert.rejects(withDeadline(never, 50, () => new Late()), Late)
    const took = performance.now() - started
    assert.ok(took >= 50 && took < 50 + 10 * SWEEP_MS, `took ${took} ms`)
  })

  it('keeps each deadline of many pending checks apart', async () => {
    const outcomes = await Promise.allSettled([
      withDeadline(sleep(10).then(() => 'fast'), 200, () => new Late()),
      withDeadline(new Promise<string>(() => undefined), 30, () => new Late()),
      withDeadline(sleep(60).then(() => 'slow but in time'), 400, () => new Late()),
    ])
    assert.deepEqual(
      outcomes.map((o) => (o.status === 'fulfilled' ? o.value : (o.reason as Error).constructor.name)),
      ['fast', 'Late', 'slow but in time'],
    )
  })
})
