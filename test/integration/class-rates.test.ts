import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { relayWithSink } from '../helpers/relay.js'
import { SmtpDialog } from '../helpers/smtp-client.js'
import type { Reply } from '../helpers/smtp-client.js'

// A class set to `unlimited` next to a tight `default` (policies/examples/production.yaml
// gives trusted-server unlimited this way): the class keeps no limit, every other class gets
// the default. Addresses in 127.0.8.0/24 are trusted-server; the rest are the default class.

describe('per-class rates: unlimited next to a default', () => {
  const env = relayWithSink({}, (p) => {
    p.instances.outbound.relay.networks = ['127.0.0.0/8']
    p.instances.outbound.classes = { networks: [{ class: 'trusted-server', cidrs: ['127.0.8.0/24'] }] }
    p.instances.outbound.checks = [{ check: 'mail.rate', limits: { address: { default: '1/1m', 'trusted-server': 'unlimited' } } }]
  })

  async function mailFroms(localAddress: string, count: number): Promise<Reply[]> {
    const c = await SmtpDialog.open({ port: env.relay.port('submission'), localAddress })
    await c.greeting
    await c.cmd('EHLO pc.test')
    const replies = []
    for (let i = 0; i < count; i++) {
      replies.push(await c.cmd(`MAIL FROM:<m${i}@customer.test>`))
      await c.cmd('RSET')
    }
    await c.quit()
    return replies
  }

  it('does not limit a class set to unlimited, while the default class gets 451 4.7.1 for its second message', async () => {
    const trusted = await mailFroms('127.0.8.1', 3)
    const other = await mailFroms('127.0.9.1', 2)
    assert.deepEqual(trusted.map((r) => r.code), [250, 250, 250])
    assert.deepEqual(other.map((r) => r.code), [250, 451])
    assert.match(other[1]?.line ?? '', /^451 4\.7\.1 Message rate limit reached for your address 127\.0\.9\.1 \(limit 1 per 1m\)/)
  })
})
