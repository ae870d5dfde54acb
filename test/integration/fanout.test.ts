import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { sharedRedis, testKeyPrefix } from '../helpers/redis.js'
import { startRelay, testPolicy, USER, waitFor } from '../helpers/relay.js'
import type { PolicyTree, TestRelay } from '../helpers/relay.js'
import { startSink } from '../helpers/sink.js'
import type { Sink } from '../helpers/sink.js'
import { authPlain, SmtpDialog } from '../helpers/smtp-client.js'

// rcpt.fanout counting an address and a user at once, on each state backend: both dimensions
// see every new domain once, a repeated domain counts for neither, and a hit in both names
// both (the reply speaks of the first, the address).

const FANOUT = { check: 'rcpt.fanout', limits: { address: { default: '2/1m' }, user: { default: '2/1m' } }, actions: { default: 'tempfail' } }

function policy(sinkPort: number, state?: PolicyTree): PolicyTree {
  return testPolicy([sinkPort], (p) => {
    if (state) p.state = state
    p.instances.outbound.relay.networks = ['127.0.0.0/8']
    p.instances.outbound.checks = [FANOUT]
  })
}

for (const backend of ['memory', 'redis'] as const) {
  describe(`rcpt.fanout per address and user (${backend})`, () => {
    let sink: Sink
    let relay: TestRelay
    let redis: { url: string; close(): Promise<void> } | undefined
    before(async () => {
      sink = await startSink()
      redis = backend === 'redis' ? await sharedRedis() : undefined
      const state = redis ? { backend: 'redis', redis: { url: redis.url, key_prefix: testKeyPrefix('fanout') } } : undefined
      relay = await startRelay(policy(sink.port, state), { instances: ['outbound'] })
    })
    after(async () => {
      await relay.close()
      await sink.close()
      await redis?.close()
    })

    it('defers the third new domain with 450 4.7.1, counting it in both dimensions', async () => {
      const c = await SmtpDialog.open({ port: relay.port('submission'), localAddress: '127.0.7.40' })
      await c.greeting
      await c.cmd('EHLO pc.test')
      await c.starttls()
      assert.equal((await c.cmd(authPlain(USER.name, USER.password))).code, 235)
      await c.cmd('MAIL FROM:<alice@customer.test>')
      const replies = []
      for (const d of ['one', 'two', 'one', 'two', 'three']) replies.push(await c.cmd(`RCPT TO:<x@${d}.test>`))
      await c.quit()
      assert.deepEqual(replies.map((r) => r.code), [250, 250, 250, 250, 450])
      assert.match(replies[4]?.line ?? '', /^450 4\.7\.1 Too many different recipient domains from your address 127\.0\.7\.40 \(limit 2 per 1m\)/)
      type Tx = { mailFrom: string; checks?: { check: string; flags?: string[]; detail?: string }[] }
      const ours = () => relay.logs.transactions().map((t) => t.tx as Tx).find((t) => t.mailFrom === 'alice@customer.test')
      await waitFor(() => ours() !== undefined, 5000, 'the transaction record')
      const fanout = ours()?.checks?.find((r) => r.check === 'rcpt.fanout')
      assert.deepEqual(fanout?.flags, ['RATE_FANOUT_ADDRESS', 'RATE_FANOUT_USER'])
      assert.match(fanout?.detail ?? '', /^3 recipient domains from your address 127\.0\.7\.40 .*; 3 recipient domains from user alice /)
    })
  })
}
