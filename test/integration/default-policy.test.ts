import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { message, SmtpDialog } from '../helpers/smtp-client.js'
import { startSink } from '../helpers/sink.js'
import { spawnRelay } from '../helpers/process.js'

// `npm start` = `smarthost-guard serve` on the embedded policies/relay.yaml: the fixed
// loopback ports of the README, next hop 127.0.0.1:2500.
describe('the embedded default policy', () => {
  it('runs both instances on their default ports and relays from 127.0.0.1 to a sink on 127.0.0.1:2500', async (t) => {
    const sink = await startSink({ port: 2500 })
    const relay = await spawnRelay([])
    t.after(async () => {
      await relay.stop()
      await sink.close()
    })
    const bound = relay.lines.filter((l) => l.msg === 'listening').map((l) => `${String(l.instance)}/${String(l.listener)} ${String(l.address)}:${String(l.port)}`)
    assert.deepEqual(bound.sort(), ['inbound/mx 127.0.0.1:2526', 'outbound/submission 127.0.0.1:2525', 'outbound/submissions 127.0.0.1:2465'])
    const ready = relay.lines.find((l) => l.msg === 'smarthost-guard ready')
    assert.equal((ready?.admin as { port: number }).port, 9465)
    assert.equal((await fetch('http://127.0.0.1:9465/readyz')).status, 200)

    const c = await SmtpDialog.open({ port: 2525 })
    await c.greeting
    await c.cmd('EHLO laptop.test')
    const r = await c.send('me@laptop.test', ['anyone@anywhere.test'], message('first light', 'Hello.\r\n', { From: 'me@laptop.test' }))
    await c.quit()
    assert.equal(r.end?.code, 250, r.end?.line)
    // The default tree tells the next hop the checks' score and flags (the message has neither
    // Message-ID nor Date), above our Received.
    assert.match(sink.messages[0]?.headers[0] ?? '', /^X-Smarthost-Guard: score=[1-9][0-9.]*; flags=.*\bHDR_NO_MESSAGE_ID\b/)
    assert.match(sink.messages[0]?.headers[1] ?? '', /^Received: from laptop\.test \(.*\[127\.0\.0\.1\]\) by relay\.localhost \(smarthost-guard\) with ESMTP id /)

    const mx = await SmtpDialog.open({ port: 2526 })
    await mx.greeting
    await mx.cmd('EHLO mx.sender.test')
    const local = await mx.send('news@sender.test', ['alice@example.org'], message('for a local mailbox'))
    await mx.quit()
    assert.equal(local.end?.code, 250)
    assert.deepEqual(sink.messages[1]?.to, ['alice@example.org'])
  })
})
