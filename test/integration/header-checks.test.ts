import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { relayWithSink, waitFor } from '../helpers/relay.js'
import type { PolicyTree } from '../helpers/relay.js'
import { sendOne } from '../helpers/smtp-client.js'

// Header screening through the relay, each check on a real example of what it looks for.

const URL_BASE = 'https://postmaster.example.net/why'

/** A complete, well-formed message; `headers` replace or add fields (null removes one). */
function message(headers: Record<string, string | string[] | null> = {}, body = 'Hello Bob,\r\nsee you on Monday.\r\n'): string {
  const fields: Record<string, string | string[] | null> = {
    From: 'Alice <alice@customer.test>',
    To: 'bob@remote.test',
    Subject: 'Monday',
    Date: 'Mon, 23 Nov 2026 09:00:00 +0100',
    'Message-ID': '<m1@pc.customer.test>',
    ...headers,
  }
  const lines = Object.entries(fields).flatMap(([k, v]) => (v === null ? [] : (Array.isArray(v) ? v : [v]).map((x) => `${k}: ${x}`)))
  return `${lines.join('\r\n')}\r\n\r\n${body}`
}

const every = (action: unknown): PolicyTree[] => [
  { check: 'data.from_mismatch', action },
  { check: 'data.multiple_from', action },
  { check: 'data.reply_to_freemail', action },
  { check: 'data.forged_received', hosts: ['relay.test', '.smarthost.example.net'], action },
  { check: 'data.webmail_trace', action },
  { check: 'data.missing_message_id', action },
  { check: 'data.missing_date', action },
  { check: 'data.bulk_mailer', action },
]

describe('header checks refusing for every class', () => {
  const env = relayWithSink({}, (p) => (p.instances.outbound.checks = every({ default: 'reject' })))
  const send = (raw: string, from = 'alice@customer.test') => sendOne(env.relay.port('submission'), from, ['bob@remote.test'], raw)

  it('relays a well-formed message that matches its sender', async () => {
    const r = await send(message())
    assert.equal(r.end?.code, 250, r.end?.line)
  })

  it('data.from_mismatch: a zombie sending as a bank from a customer line', async () => {
    const r = await send(message({ From: 'Security Team <security@bank.example>' }))
    assert.equal(
      r.end?.line,
      `550 5.7.1 Header From: <security@bank.example> does not match the sender <alice@customer.test>; send with your own address in From:; see ${URL_BASE}/from-mismatch`,
    )
    // A subdomain of the sender's domain is the same domain; the null sender is not judged.
    assert.equal((await send(message({ From: 'news@mail.customer.test' }))).end?.code, 250)
    assert.equal((await send(message({ From: 'MAILER-DAEMON@pc.customer.test' }), '')).end?.code, 250)
  })

  it('data.multiple_from: two From: fields', async () => {
    const r = await send(message({ From: ['alice@customer.test', 'someone@else.example'] }))
    assert.equal(r.end?.line, `550 5.7.1 Message has 2 From: header fields; RFC 5322 allows exactly one; see ${URL_BASE}/multiple-from`)
  })

  it('data.reply_to_freemail: answers go to a gmail mailbox the From: domain has nothing to do with', async () => {
    const r = await send(message({ 'Reply-To': 'Dr. Mike <claims.agent2026@gmail.com>' }))
    assert.equal(
      r.end?.line,
      `550 5.7.1 Reply-To: <claims.agent2026@gmail.com> sends replies to a freemail address unrelated to From: <alice@customer.test>; use the sender's own domain; see ${URL_BASE}/reply-to-freemail`,
    )
  })

  it('data.forged_received: a Received: header claiming our relay, copied into a fresh message', async () => {
    const forged = 'from mail.customer.test (mail.customer.test [192.0.2.7])\r\n\tby out3.smarthost.example.net (smarthost-guard) with ESMTPSA id 237Z14GVD2TP81; Mon, 23 Nov 2026 08:59:00 +0000'
    const r = await send(message({ Received: forged }))
    assert.equal(
      r.end?.line,
      `550 5.7.1 Message carries a Received: header for out3.smarthost.example.net that this relay did not write (forged trace); see ${URL_BASE}/forged-received`,
    )
    // Someone else's trace is fine.
    const other = 'from pc (pc [10.0.0.5]) by mail.customer.test (Postfix) with ESMTP id 4XyZ; Mon, 23 Nov 2026 08:59:00 +0000'
    assert.equal((await send(message({ Received: other }))).end?.code, 250)
  })

  it('data.webmail_trace: a webmail submission trace', async () => {
    const trace = 'from [198.51.100.23] by webmail.example.org with HTTP; Mon, 23 Nov 2026 08:58:00 +0000'
    const r = await send(message({ Received: trace }))
    assert.equal(
      r.end?.line,
      `550 5.7.1 Message carries a webmail submission trace (Received: with HTTP), not accepted from this connection; send it from the webmail service itself; see ${URL_BASE}/webmail-trace`,
    )
  })

  it('data.missing_message_id and data.missing_date: a bot that talks SMTP itself', async () => {
    const noId = await send(message({ 'Message-ID': null }))
    assert.equal(
      noId.end?.line,
      `550 5.7.1 Message has no Message-ID header; set up your mail program to add one (RFC 5322 section 3.6.4); see ${URL_BASE}/missing-message-id`,
    )
    const noDate = await send(message({ Date: null }))
    assert.equal(
      noDate.end?.line,
      `550 5.7.1 Message has no Date header; set up your mail program to add one (RFC 5322 section 3.6.1); see ${URL_BASE}/missing-date`,
    )
  })

  it('data.bulk_mailer: a bulk mailer names itself in X-Mailer', async () => {
    const r = await send(message({ 'X-Mailer': 'Atomic Mail Sender 9.50' }))
    assert.equal(
      r.end?.line,
      `550 5.7.1 Messages sent with the bulk mailer "Atomic Mail Sender 9.50" are not accepted here; use a newsletter service for bulk mail; see ${URL_BASE}/bulk-mailer`,
    )
  })
})

describe('header checks with a verdict per client class', () => {
  // Sessions here are of class "unknown" (no classifier rule matches 127.0.0.1): its entry wins over default.
  const env = relayWithSink({}, (p) => {
    p.instances.outbound.checks = [
      ...every({ default: 'reject', unknown: { tag: 2 } }),
      { check: 'data.from_mismatch', require: { default: 'same_address', unknown: 'any' }, action: { default: 'reject' } },
    ]
  })

  it('tags instead of refusing for the class that says so, and adds up the scores', async () => {
    const raw = message({ 'Message-ID': null, Date: null, 'X-Mailer': 'SendBlaster 4', From: 'promo@shop.example' })
    const r = await sendOne(env.relay.port('submission'), 'alice@customer.test', ['bob@remote.test'], raw)
    assert.equal(r.end?.code, 250, r.end?.line)
    await waitFor(() => env.relay.logs.transactions().at(-1)?.tx.outcome === 'delivered')
    const tx = env.relay.logs.transactions().at(-1)!.tx as { score: number; flags: string[]; checks: { check: string; outcome: string }[] }
    assert.deepEqual(tx.flags, ['HDR_FROM_MISMATCH', 'HDR_NO_MESSAGE_ID', 'HDR_NO_DATE', 'HDR_BULK_MAILER'])
    assert.equal(tx.score, 8)
    // The second from_mismatch entry requires nothing of this class: no opinion, nothing recorded.
    assert.equal(tx.checks.filter((c) => c.check === 'data.from_mismatch').map((c) => c.outcome).join(','), 'tag')
  })
})

describe('data.from_mismatch requiring the same address for the client class', () => {
  // Sessions here are of class "unknown": its entry asks more than the default.
  const env = relayWithSink({}, (p) => {
    p.instances.outbound.checks = [
      { check: 'data.from_mismatch', require: { default: 'same_domain', unknown: 'same_address' }, action: { default: 'reject' } },
    ]
  })
  const send = (raw: string) => sendOne(env.relay.port('submission'), 'alice@customer.test', ['bob@remote.test'], raw)

  it('refuses a From: of another mailbox of the sender domain with 550 5.7.1', async () => {
    const r = await send(message({ From: 'Bob <bob@customer.test>' }))
    assert.equal(
      r.end?.line,
      `550 5.7.1 Header From: <bob@customer.test> does not match the sender <alice@customer.test>; send with your own address in From:; see ${URL_BASE}/from-mismatch`,
    )
    // The sender's own address, in any case, passes.
    assert.equal((await send(message({ From: 'Alice <Alice@Customer.test>' }))).end?.code, 250)
  })
})
