import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { metricsText, sample } from '../helpers/metrics.js'
import { startMuteHop } from '../helpers/mute-hop.js'
import type { MuteMode } from '../helpers/mute-hop.js'
import { startRelay, testPolicy, waitFor } from '../helpers/relay.js'
import { startSink } from '../helpers/sink.js'
import { message, sendOne } from '../helpers/smtp-client.js'

const UNCONFIRMED = /^451 4\.4\.2 The next hop did not confirm the message after receiving it; it may have been delivered, so a retry may deliver a second copy/

// DESIGN invariant 9: once the final dot went out, an unanswered message goes to no other hop.
describe('a next hop that took the whole message and did not answer', () => {
  for (const [mode, what, cause] of [
    ['close', 'closes the connection', 'closed'],
    ['silent', 'never answers (data_reply_timeout)', 'timeout'],
  ] as const satisfies readonly (readonly [MuteMode, string, string])[]) {
    it(`answers 451 4.4.2 and sends nothing to the second hop when the first ${what}`, async (t) => {
      const mute = await startMuteHop(mode)
      const second = await startSink()
      const relay = await startRelay(
        testPolicy([mute.port, second.port], (p) => {
          p.instances.outbound.next_hops[0].data_reply_timeout = '1s'
        }),
      )
      t.after(async () => {
        await relay.close()
        await second.close()
        await mute.close()
      })
      const r = await sendOne(relay.port('submission'), 'alice@customer.test', ['bob@remote.test'], message(`unconfirmed ${mode}`))
      assert.equal(r.rcpt[0]?.code, 250)
      assert.match(r.end?.line ?? '', UNCONFIRMED)
      assert.equal(mute.messages.length, 1)
      assert.equal(second.messages.length, 0)
      assert.equal(second.connections, 0)
      await waitFor(() => relay.logs.transactions().length > 0)
      const tx = relay.logs.transactions().at(-1)!
      assert.equal(tx.tx.outcome, 'tempfailed')
      assert.deepEqual(tx.tx.flags, ['NEXTHOP_POSSIBLE_DUPLICATE'])
      const warned = relay.logs.lines.find((l) => l.possible_duplicate === true)
      assert.equal(warned?.nextHop, `127.0.0.1:${mute.port}`)
      const metrics = await metricsText(relay.adminUrl('/metrics'))
      assert.equal(sample(metrics, 'smarthost_nexthop_unconfirmed_total', { next_hop: `127.0.0.1:${mute.port}`, cause }), 1)
    })
  }

  it('still fails over when the first hop dies before the final dot was sent', async (t) => {
    // A hop that refuses connections at all: the message never left, so the second hop takes it.
    const gone = await startSink()
    const port = gone.port
    await gone.close()
    const second = await startSink()
    const relay = await startRelay(testPolicy([port, second.port]))
    t.after(async () => {
      await relay.close()
      await second.close()
    })
    const r = await sendOne(relay.port('submission'), 'alice@customer.test', ['bob@remote.test'], message('failover'))
    assert.equal(r.end?.code, 250, r.end?.line)
    assert.equal(second.messages.length, 1)
  })
})
