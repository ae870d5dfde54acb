import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import * as replies from '../../src/errors/replies.js'
import type { SmtpReply } from '../../src/errors/smtp-reply.js'
import { startReplyServer } from '../helpers/reply-server.js'
import type { ReplyServer } from '../helpers/reply-server.js'
import { SmtpDialog } from '../helpers/smtp-client.js'

// The content and header replies exactly as a client sees them at the end of DATA.
const EXPECTED: Record<string, [() => SmtpReply, string]> = {
  contentRejected: [
    () => replies.contentRejected('it contains the EICAR anti-virus test file', 'eicar-test-file'),
    '554 5.7.1 Message refused: it contains the EICAR anti-virus test file',
  ],
  heldForReview: [
    () => replies.heldForReview('Office document with macros', 'office-macro-ooxml'),
    '554 5.7.1 Message held for review by the postmaster, not delivered: Office document with macros',
  ],
  contentDeferred: [
    () => replies.contentDeferred('it is too large or too deeply nested to be checked', 'scan-limit'),
    '451 4.7.1 Message deferred: it is too large or too deeply nested to be checked; please try again later',
  ],
  fromMismatch: [
    () => replies.fromMismatch('security@bank.example', 'alice@customer.test'),
    '550 5.7.1 Header From: <security@bank.example> does not match the sender <alice@customer.test>; send with your own address in From:',
  ],
  multipleFrom: [() => replies.multipleFrom(2), '550 5.7.1 Message has 2 From: header fields; RFC 5322 allows exactly one'],
  replyToFreemail: [
    () => replies.replyToFreemail('agent@gmail.com', 'alice@customer.test'),
    "550 5.7.1 Reply-To: <agent@gmail.com> sends replies to a freemail address unrelated to From: <alice@customer.test>; use the sender's own domain",
  ],
  forgedReceived: [
    () => replies.forgedReceived('relay.test'),
    '550 5.7.1 Message carries a Received: header for relay.test that this relay did not write (forged trace)',
  ],
  webmailTrace: [
    () => replies.webmailTrace(),
    '550 5.7.1 Message carries a webmail submission trace (Received: with HTTP), not accepted from this connection; send it from the webmail service itself',
  ],
  missingMessageId: [
    () => replies.missingMessageId(),
    '550 5.7.1 Message has no Message-ID header; set up your mail program to add one (RFC 5322 section 3.6.4)',
  ],
  missingDate: [() => replies.missingDate(), '550 5.7.1 Message has no Date header; set up your mail program to add one (RFC 5322 section 3.6.1)'],
  bulkMailer: [
    () => replies.bulkMailer('SendBlaster 4'),
    '550 5.7.1 Messages sent with the bulk mailer "SendBlaster 4" are not accepted here; use a newsletter service for bulk mail',
  ],
  headerDeferred: [
    () => replies.headerDeferred('Message has no Date header', 'missing-date'),
    '450 4.7.1 Message has no Date header; deferred by policy, please try again later',
  ],
}

describe('content and header replies on the wire', () => {
  let server: ReplyServer
  let port: number
  before(async () => {
    server = await startReplyServer({
      onData(stream, session, cb) {
        stream.resume()
        stream.on('end', () => {
          const name = session.envelope.rcptTo[0]?.address.split('@')[0] ?? ''
          cb(EXPECTED[name]?.[0]() ?? null)
        })
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
      const r = await c.send('a@b.test', [`${name}@x.test`], 'Subject: x\r\n\r\nbody\r\n')
      await c.quit()
      assert.equal(r.end?.line, line)
    })
  }
})
