import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { relayWithDns, TEST_LISTS } from '../helpers/dns-relay.js'
import { eventually } from '../helpers/eventually.js'
import { startReceiver } from '../helpers/webhook-receiver.js'
import type { Receiver } from '../helpers/webhook-receiver.js'

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'

describe('alerting: our own egress address on a block list', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shg-alerts-egress-'))
  writeFileSync(join(dir, 'hook.secret'), `${SECRET}\n`)
  let receiver: Receiver
  before(async () => {
    receiver = await startReceiver(SECRET)
  })
  after(async () => {
    await receiver.close()
  })
  const t = relayWithDns(['dnsbl'], (p) => {
    p.dns_lists = { lists: { zen: TEST_LISTS.zen } }
    p.egress = { addresses: ['127.0.0.25', '127.0.0.26'], watch: { every: '200ms' } }
    p.alerts = { dir: join(dir, 'alerts'), evaluate_every: '200ms', webhooks: [{ name: 'noc', url: receiver.url, secret_file: join(dir, 'hook.secret') }] }
  })

  it('raises one critical egress_listed incident naming the address and the list, through the running relay', async () => {
    const { value } = await eventually(() => Promise.resolve(receiver.received), (r) => r.length >= 1, { ms: 30_000, what: 'the egress incident' })
    const data = value[0]!.body.data as unknown as { rule: string; severity: string; client_key: string; summary: string }
    assert.deepEqual([data.rule, data.severity, data.client_key], ['egress_listed', 'critical', 'address:127.0.0.25'])
    assert.match(data.summary, /^egress address 127\.0\.0\.25 is listed in zen: SBL \(127\.0\.0\.2\)$/)
    assert.ok(value[0]!.validSignature)
    // The watch keeps finding it: still one incident.
    await eventually(() => Promise.resolve(t.dns.count('25.0.0.127.zen.dnsbl.test')), (n) => n >= 4, { ms: 10_000, what: 'more rounds of the watch' })
    assert.equal(receiver.unique().size, 1)
    const res = await fetch(t.relay.adminUrl('/metrics'))
    assert.match(await res.text(), /^smarthost_alerts_raised_total\{rule="egress_listed",severity="critical"\} [1-9]/m)
  })
})
