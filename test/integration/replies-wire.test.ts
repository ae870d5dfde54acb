import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import * as replies from '../../src/errors/replies.js'
import type { SmtpReply } from '../../src/errors/smtp-reply.js'
import { startReplyServer } from '../helpers/reply-server.js'
import type { ReplyServer } from '../helpers/reply-server.js'
import { SmtpDialog } from '../helpers/smtp-client.js'

// Every named reply exactly as a client sees it on the wire.
const EXPECTED: Record<string, [() => SmtpReply, string]> = {
  relayDenied: [() => replies.relayDenied('u@ext.test'), '554 5.7.1 <u@ext.test>: Relay access denied; authenticate with SMTP AUTH over TLS or send from your own network'],
  routingRefused: [() => replies.routingRefused('u%ext.test@example.net'), '550 5.7.1 <u%ext.test@example.net>: Sender-specified routing is not accepted; use a plain user@domain address'],
  unknownRecipient: [() => replies.unknownRecipient('carol@example.org'), '550 5.1.1 <carol@example.org>: Recipient address rejected: no such mailbox here'],
  messageTooBig: [() => replies.messageTooBig(1000), '552 5.3.4 Message size exceeds the fixed limit of 1000 bytes'],
  tooManyRecipients: [() => replies.tooManyRecipients(100), '452 4.5.3 Too many recipients for one message (limit 100); send the rest in another message'],
  bareLineEnding: [() => replies.bareLineEnding(), '550 5.6.11 Message refused: bare CR or LF in message data; every line must end with CRLF (RFC 5321 section 2.3.8)'],
  noNextHop: [() => replies.noNextHop(), '451 4.4.1 No next hop is reachable at the moment; please try again later'],
  nextHopTimeout: [() => replies.nextHopTimeout(), '451 4.4.2 The next hop did not answer in time; please try again later'],
  nextHopUnconfirmed: [
    () => replies.nextHopUnconfirmed(),
    '451 4.4.2 The next hop did not confirm the message after receiving it; it may have been delivered, so a retry may deliver a second copy',
  ],
  nextHopLost: [() => replies.nextHopLost(), '451 4.4.2 The connection to the next hop was lost during this transaction; please try again later'],
  localError: [() => replies.localError(), '451 4.3.0 Temporary local problem; please try again later'],
  authFailed: [() => replies.authFailed(), '535 5.7.8 Authentication credentials invalid'],
  greetingTimeout: [
    () => replies.greetingTimeout(20),
    '421 4.4.2 No command received within 20 s of the greeting; closing the connection, send EHLO right after the 220',
  ],
  commandTimeout: [() => replies.commandTimeout(300), '421 4.4.2 No complete command received within 300 s; closing the connection'],
  dataTimeout: [
    () => replies.dataTimeout(600),
    '421 4.4.2 Message data not complete within 600 s; closing the connection, nothing was relayed; try again over a faster link',
  ],
  dataTooSlow: [
    () => replies.dataTooSlow(500),
    '421 4.4.2 Message data arriving slower than 500 bytes/s; closing the connection, nothing was relayed; try again over a faster link',
  ],
  authUnavailable: [() => replies.authUnavailable(), '454 4.7.0 Temporary authentication failure; please try again later'],
  authNewAddressRefused: [
    () => replies.authNewAddressRefused('alice', '192.0.2.66', 540_000),
    '454 4.7.0 Too many failed authentication attempts for user alice; until they stop (about 540 s) it may log in only from addresses it used before, not from 192.0.2.66',
  ],
  policyReject: [() => replies.policyReject('Blocked by local policy'), '550 5.7.1 Blocked by local policy'],
  policyTempfail: [() => replies.policyTempfail('Deferred by local policy'), '450 4.7.1 Deferred by local policy'],
  connectReject: [() => replies.connectReject('Your address is blocked here'), '554 5.7.1 Your address is blocked here'],
  connectTempfail: [() => replies.connectTempfail('Deferred by local policy'), '421 4.7.1 Deferred by local policy'],
  scoreReject: [() => replies.scoreReject(15.5, 15), '550 5.7.1 Message refused by policy (spam score 15.5, limit 15)'],
  scoreTempfail: [() => replies.scoreTempfail(6, 5), '451 4.7.1 Message deferred by policy (spam score 6, limit 5); please try again later'],
  dnsblListed: [
    () => replies.dnsblListed('Client host [192.0.2.7]', 'zen.spamhaus.org', 'XBL', 'https://check.spamhaus.org/listed/?searchterm=192.0.2.7'),
    '554 5.7.1 Service unavailable; Client host [192.0.2.7] blocked using zen.spamhaus.org (XBL); look it up at https://check.spamhaus.org/listed/?searchterm=192.0.2.7',
  ],
  dnsblDeferred: [
    () => replies.dnsblDeferred('Sender domain example.com', 'dbl.example.net', null, null),
    '450 4.7.1 Sender domain example.com is listed in dbl.example.net; please try again later',
  ],
  dnsLookupFailed: [
    () => replies.dnsLookupFailed('192.0.2.7 in DNS lists'),
    '451 4.4.3 Temporary DNS failure while checking 192.0.2.7 in DNS lists; please try again later',
  ],
  noReverseDns: [
    () => replies.noReverseDns('192.0.2.7'),
    "550 5.7.25 Client host [192.0.2.7] has no reverse DNS (PTR) name; ask your provider for one, or send through your provider's mail server",
  ],
  reverseDnsMismatch: [
    () => replies.reverseDnsMismatch('192.0.2.7', 'mail.example.com', true),
    '450 4.7.25 Client host [192.0.2.7]: its name mail.example.com does not resolve back to it; please try again later',
  ],
  dynamicClient: [
    () => replies.dynamicClient('192.0.2.7', 'pool-192-0-2-7.isp.example'),
    "550 5.7.1 Client host [192.0.2.7] (pool-192-0-2-7.isp.example) looks like a dynamic or residential line; send through your provider's mail server",
  ],
  heloRejected: [
    () => replies.heloRejected('localhost', 'localhost is not your host name; greet with your fully-qualified host name'),
    '550 5.7.1 <localhost>: Helo command rejected: localhost is not your host name; greet with your fully-qualified host name',
  ],
  spfForgedSender: [
    () => replies.spfForgedSender('bank.example', '192.0.2.25', 'fail'),
    "550 5.7.23 bank.example does not allow this relay to send its mail (SPF fail for 192.0.2.25); send it through bank.example's own mail servers, or ask its administrator to authorize this relay",
  ],
  spfFail: [
    () => replies.spfFail('bank.example', '198.51.100.7', 'fail'),
    '550 5.7.23 SPF fail: bank.example does not allow [198.51.100.7] to send its mail',
  ],
  spfTempError: [
    () => replies.spfTempError('example.com'),
    '451 4.7.24 Temporary error evaluating the SPF record of example.com; please try again later',
  ],
  spfPermError: [
    () => replies.spfPermError('example.com'),
    '550 5.7.24 The SPF record of example.com is invalid (permerror); its administrator must correct it',
  ],
  nextHopTooBig: [
    () => replies.nextHopTooBig(20_000_000),
    '552 5.3.4 Message size exceeds the fixed limit of 20000000 bytes of the next mail server',
  ],
  hostedSenderNotLoggedIn: [
    () => replies.hostedSenderNotLoggedIn('alice@isp.example'),
    '553 5.7.1 <alice@isp.example>: Sender address rejected: not logged in; authenticate with SMTP AUTH to send as an address of this domain',
  ],
  senderLoginMismatch: [
    () => replies.senderLoginMismatch('ceo@bank.example', 'alice', '<alice@isp.example> or @office.example'),
    '553 5.7.1 <ceo@bank.example> is not among the addresses alice may send as; use <alice@isp.example> or @office.example, or ask the postmaster to add it',
  ],
  invalidUtf8Address: [
    () => replies.invalidUtf8Address('recipient'),
    '501 5.1.3 The recipient address is not valid UTF-8; send it as UTF-8 (with SMTPUTF8) or as plain ASCII',
  ],
}

describe('reply lines on the wire', () => {
  let server: ReplyServer
  let port: number
  before(async () => {
    server = await startReplyServer({
      onRcptTo(address, _session, cb) {
        const name = address.address.split('@')[0] ?? ''
        const entry = EXPECTED[name]
        if (entry) return cb(entry[0]())
        if (name === 'listenerBusy') return cb(replies.listenerBusy())
        cb()
      },
    })
    port = server.port
  })
  after(() => server.close())

  for (const [name, [, line]] of Object.entries(EXPECTED)) {
    it(`${name}: ${line}`, async () => {
      const c = await SmtpDialog.open({ port })
      await c.greeting
      await c.cmd('EHLO client.test')
      await c.cmd('MAIL FROM:<a@b.test>')
      const r = await c.cmd(`RCPT TO:<${name}@x.test>`)
      await c.quit()
      assert.equal(r.line, line)
    })
  }

  it('a 421 reply closes the connection', async () => {
    const c = await SmtpDialog.open({ port })
    await c.greeting
    await c.cmd('EHLO client.test')
    await c.cmd('MAIL FROM:<a@b.test>')
    const r = await c.cmd('RCPT TO:<listenerBusy@x.test>')
    assert.equal(r.line, '421 4.3.2 Too many connections to this service; please try again in a moment')
    await assert.rejects(c.read(2000), /connection closed/)
  })

  it('smtp-server\u2019s own replies carry enhanced codes too, and EHLO advertises them', async () => {
    const c = await SmtpDialog.open({ port })
    await c.greeting
    const ehlo = await c.cmd('EHLO client.test')
    assert.ok(ehlo.lines.includes('ENHANCEDSTATUSCODES'))
    assert.equal((await c.cmd('RCPT TO:<a@b.test>')).line, '503 5.5.1 Error: need MAIL command')
    assert.equal((await c.cmd('FROB')).line, '500 5.5.2 Error: command not recognized')
    assert.equal((await c.cmd('MAIL FROM:<a@b.test>')).line, '250 2.1.0 Accepted')
    assert.equal((await c.cmd('MAIL FROM:<a@b.test>')).line, '503 5.5.1 Error: nested MAIL command')
    assert.equal((await c.cmd('RCPT TO:<a@b@c.test>')).line, '501 5.1.3 Error: Bad recipient address syntax')
    await c.quit()
  })
})
