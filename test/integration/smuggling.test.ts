import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { SmtpDialog } from '../helpers/smtp-client.js'
import { startLenientSink } from '../helpers/lenient-sink.js'
import type { LenientTransaction } from '../helpers/lenient-sink.js'
import { startRelay, testPolicy } from '../helpers/relay.js'
import type { TestRelay } from '../helpers/relay.js'

// Known SMTP smuggling end-of-data vectors (SEC Consult 2023 and follow-ups): each is
// followed by a second, forged transaction that a lenient next hop would run.
const VECTORS: Record<string, string> = {
  '\\n.\\n': '\n.\n',
  '\\n.\\r\\n': '\n.\r\n',
  '\\r.\\r': '\r.\r',
  '\\r\\n.\\r': '\r\n.\r',
  '\\r.\\r\\n': '\r.\r\n',
  '\\r\\n.\\n': '\r\n.\n',
  '\\n.\\r': '\n.\r',
  '\\r\\n\\x00.\\r\\n': '\r\n\x00.\r\n',
}

const SMUGGLED = 'MAIL FROM:<ceo@bank.test>\r\nRCPT TO:<victim@ext.test>\r\nDATA\r\nFrom: ceo@bank.test\r\nSubject: smuggled\r\n\r\nwire the money\r\n'

function payload(vector: string): string {
  return `From: alice@customer.test\r\nTo: bob@example.net\r\nSubject: carrier\r\n\r\nfirst message${vector}${SMUGGLED}`
}

async function smuggle(port: number, rcpt: string, vector: string) {
  const c = await SmtpDialog.open({ port })
  await c.greeting
  await c.cmd('EHLO attacker.test')
  await c.cmd('MAIL FROM:<alice@customer.test>')
  await c.cmd(`RCPT TO:<${rcpt}>`)
  assert.equal((await c.cmd('DATA')).code, 354)
  // SMUGGLED ends with CRLF, so ".CRLF" completes the one real end-of-data sequence.
  c.write(payload(vector) + '.\r\n')
  const end = await c.read()
  const quit = await c.cmd('QUIT')
  c.destroy()
  return { end, quit }
}

const forged = (txs: LenientTransaction[]) => txs.filter((t) => t.from === 'ceo@bank.test' || t.to.includes('victim@ext.test'))

describe('SMTP smuggling: bare CR and LF never become a message boundary downstream', () => {
  let sink: Awaited<ReturnType<typeof startLenientSink>>
  let relay: TestRelay
  before(async () => {
    sink = await startLenientSink()
    relay = await startRelay(testPolicy([sink.port], (p) => {
      for (const i of ['outbound', 'inbound']) p.instances[i].next_hops[0].tls = 'none'
    }))
  })
  after(async () => {
    await relay.close()
    await sink.close()
  })

  for (const [name, vector] of Object.entries(VECTORS)) {
    it(`inbound (reject): refuses ${name} with 550 5.6.11 and the next hop sees nothing`, async () => {
      const before = sink.transactions.length
      const { end, quit } = await smuggle(relay.port('mx'), 'bob@example.net', vector)
      const bare = /(^|[^\r])\n|\r(?!\n)/.test(vector)
      if (bare) {
        assert.match(end.line, /^550 5\.6\.11 Message refused: bare CR or LF in message data/)
        assert.equal(sink.transactions.length, before)
      } else {
        // CRLF \0 . CRLF has no bare line end: it is ordinary content, relayed as one message.
        assert.equal(end.code, 250)
        assert.equal(sink.transactions.length, before + 1)
      }
      assert.equal(quit.code, 221)
      assert.deepEqual(forged(sink.transactions), [])
    })

    it(`outbound (normalize): relays ${name} as one message, the forged part stays body text`, async () => {
      const before = sink.transactions.length
      const { end } = await smuggle(relay.port('submission'), 'bob@ext.test', vector)
      assert.equal(end.code, 250, end.line)
      assert.equal(sink.transactions.length, before + 1, 'the lenient next hop saw exactly one transaction')
      const tx = sink.transactions.at(-1)!
      assert.equal(tx.from, 'alice@customer.test')
      assert.ok(tx.data.includes('MAIL FROM:<ceo@bank.test>'), 'the smuggled commands arrived as body text')
      assert.doesNotMatch(tx.data, /(^|[^\r])\n|\r(?!\n)/, 'every line ends with CRLF on the wire')
      assert.deepEqual(forged(sink.transactions), [])
    })
  }

  it('records the bare line endings on the transaction', () => {
    const tx = relay.logs.transactions().find((l) => ((l.tx.flags as string[] | undefined) ?? []).includes('BARE_LF'))
    assert.ok(tx, 'a transaction flagged BARE_LF')
  })
})
