import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { StateServer } from '../../src/cluster/state-server.js'
import type { Call } from '../../src/cluster/messages.js'
import { MemoryBackend } from '../../src/limits/backend.js'
import { createLogger } from '../../src/log/logger.js'

// The primary's side of `serve --workers N`: what workers hold is counted for the host, and a
// worker that exits gives back what it held.

const limits = { total: 10, reserved: 0, perAddress: 2 }

function server(): { run(worker: number, op: string, ...args: unknown[]): Promise<unknown>; state: StateServer } {
  const memory = new MemoryBackend(1000)
  const state = new StateServer({ backend: () => memory, stats: () => undefined, note: () => undefined }, createLogger('silent'))
  let id = 0
  return {
    state,
    async run(worker, op, ...args) {
      const call: Call = { id: ++id, op, args }
      const [answer] = await state.run(worker, [call])
      if (answer && 'error' in answer) throw new Error(answer.error)
      return answer?.value
    },
  }
}

describe('the primary\u2019s state server', () => {
  it('holds the tarpit to one budget for every worker, and frees the sockets of a worker that exited', async () => {
    const s = server()
    assert.equal(await s.run(1, 'tarpit.take', 'outbound', 2), true)
    assert.equal(await s.run(2, 'tarpit.take', 'outbound', 2), true)
    assert.equal(await s.run(2, 'tarpit.take', 'outbound', 2), false)
    s.state.forget(1)
    assert.equal(await s.run(2, 'tarpit.take', 'outbound', 2), true)
    await s.run(2, 'tarpit.give', 'outbound')
    assert.equal(await s.run(3, 'tarpit.take', 'outbound', 2), true)
  })

  it('caps an address\u2019s connections across workers, and gives the places of a worker that exited back', async () => {
    const s = server()
    const admit = (worker: number, id: string) => s.run(worker, 'slots.admit', 'outbound/mx', id, '192.0.2.7', false, limits)
    assert.deepEqual(await admit(1, 'a'), { customer: false, address: '192.0.2.7' })
    assert.deepEqual(await admit(2, 'a'), { customer: false, address: '192.0.2.7' })
    assert.equal(await admit(2, 'b'), 'address_full')
    s.state.forget(1)
    assert.notEqual(await admit(2, 'b'), 'address_full')
    await s.run(2, 'slots.release', 'outbound/mx', 'a')
    assert.notEqual(await admit(3, 'c'), 'address_full')
  })

  it('counts rate limits once for every worker, and answers a batch in order', async () => {
    const s = server()
    const calls: Call[] = [1, 2, 3].map((id) => ({ id, op: 'rl.upsert', args: ['outbound:rl:mail.rate:address:192.0.2.7', 1, 60_000, false] }))
    const answers = await s.state.run(1, calls)
    assert.deepEqual(
      answers.map((a) => ('value' in a ? (a.value as { consumed: number }).consumed : a.error)),
      [1, 2, 3],
    )
    const more = await s.state.run(2, [{ id: 4, op: 'rl.upsert', args: ['outbound:rl:mail.rate:address:192.0.2.7', 1, 60_000, false] }])
    assert.equal(('value' in more[0]! ? (more[0].value as { consumed: number }) : null)?.consumed, 4)
  })

  it('refuses an unknown operation with an error answer, not a crash', async () => {
    await assert.rejects(server().run(1, 'nope'), /unknown operation nope/)
  })
})
