import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import type { ScanSummary } from '../../src/scan/summary.js'
import { relayWithSink, waitFor } from '../helpers/relay.js'
import * as samples from '../helpers/samples.js'
import { quarantineIndex, scanning } from '../helpers/scan.js'
import { sendOne } from '../helpers/smtp-client.js'

// The content scan through the real relay: a client on a socket, the scanner threads with
// the default rule pack, a recording sink as next hop, the quarantine on disk.

/** The parts of a logged transaction record these tests read. */
interface LoggedTx {
  id: string
  outcome: string
  flags: string[]
  scan: ScanSummary
}

const FROM = 'alice@customer.test'
const TO = ['bob@remote.test']

describe('content scan through the relay', () => {
  const env = relayWithSink({}, scanning())
  const send = (raw: string) => sendOne(env.relay.port('submission'), FROM, TO, raw)
  const lastTx = () => env.relay.logs.transactions().at(-1)?.tx as LoggedTx | undefined

  it('refuses EICAR inside a zip inside a MIME message with 554 5.7.1, delivers nothing, keeps it in the quarantine with its index line', async () => {
    const archive = await samples.zip([
      { name: 'readme.txt', content: 'see attached' },
      { name: 'eicar.com', content: samples.eicar() },
    ])
    const raw = await samples.mimeMessage({ subject: 'the files you asked for', attachments: [{ filename: 'files.zip', content: archive }] })
    const before = env.sink.messages.length
    const r = await send(raw)
    assert.equal(
      r.end?.line,
      '554 5.7.1 Message refused: it contains the EICAR anti-virus test file; see https://postmaster.example.net/why/eicar-test-file',
    )
    assert.equal(env.sink.messages.length, before)
    await waitFor(() => lastTx()?.outcome === 'rejected', 5000, 'the transaction record')
    const tx = lastTx()!
    assert.equal(tx.scan.decision, 'reject')
    assert.deepEqual(tx.scan.hits, ['EICAR_Test_File'])
    assert.equal(tx.scan.objects, 6)
    assert.ok(tx.flags.includes('YARA_EICAR_TEST_FILE'))
    const index = await quarantineIndex(join(env.relay.dir, 'quarantine'))
    const line = index.find((l) => l.id === tx.id)
    assert.ok(line, 'an index line for the refused message')
    assert.equal(line.kind, 'refused')
    assert.equal(line.reason, 'eicar-test-file')
    assert.equal(line.sender, FROM)
    assert.deepEqual(line.recipients, TO)
    assert.equal(line.subject, 'the files you asked for')
    assert.deepEqual(line.hits, ['EICAR_Test_File'])
    assert.match(String(line.reply), /^554 5\.7\.1 Message refused: it contains the EICAR/)
    assert.match(String(line.file), /^\d{4}-\d{2}-\d{2}\/eicar-test-file\/[0-9A-Z]+\.eml$/)
    const kept = await readFile(join(env.relay.dir, 'quarantine', String(line.file)), 'latin1')
    // The client's bytes as sent (SmtpDialog ends the data with CRLF . CRLF).
    assert.equal(kept, `${raw.replace(/\r?\n/g, '\r\n')}\r\n`)
  })

  it('delivers the same zip without EICAR, scanned and clean', async () => {
    const archive = await samples.zip([{ name: 'readme.txt', content: 'see attached' }])
    const raw = await samples.mimeMessage({ subject: 'clean files', attachments: [{ filename: 'files.zip', content: archive }] })
    const r = await send(raw)
    assert.equal(r.end?.code, 250, r.end?.line)
    const got = env.sink.messages.at(-1)!
    assert.ok(got.text.includes('Subject: clean files'))
    assert.ok(!got.headers.some((h) => h.startsWith('X-Smarthost-Guard-Scan')), 'no tag header on clean content')
    await waitFor(() => lastTx()?.outcome === 'delivered')
    assert.equal(lastTx()!.scan.decision, 'accept')
    assert.equal(lastTx()!.scan.objects, 5)
  })

  it('refuses invoice.pdf.exe whatever it contains', async () => {
    const raw = await samples.mimeMessage({ attachments: [{ filename: 'invoice.pdf.exe', content: 'just text, but the name lies' }] })
    const r = await send(raw)
    assert.equal(
      r.end?.line,
      '554 5.7.1 Message refused: the attachment name hides a program behind a document extension (such as invoice.pdf.exe); see https://postmaster.example.net/why/double-extension-executable',
    )
  })

  it('opens a password-protected zip with the password from the body and finds what it hides', async () => {
    const archive = await samples.zip([{ name: 'scan.com', content: samples.eicar(), password: 'Tiger-4711', zipCrypto: true }])
    const raw = await samples.mimeMessage({
      text: 'Hello,\r\nthe archive is protected, the password is: Tiger-4711\r\nRegards\r\n',
      attachments: [{ filename: 'scan.zip', content: archive }],
    })
    const r = await send(raw)
    assert.match(r.end?.line ?? '', /^554 5\.7\.1 Message refused: it contains the EICAR anti-virus test file/)
    await waitFor(() => lastTx()?.outcome === 'rejected')
    assert.ok(!lastTx()!.scan.flags.includes('encrypted_archive'), 'the archive was opened')
  })

  it('tags an AES-encrypted zip whose password is nowhere in the message, and says so to the next hop', async () => {
    const archive = await samples.zip([{ name: 'report.txt', content: 'quarterly figures', password: 'not-in-the-text' }])
    const raw = await samples.mimeMessage({ text: 'The password follows by phone.\r\n', attachments: [{ filename: 'report.zip', content: archive }] })
    const r = await send(raw)
    assert.equal(r.end?.code, 250, r.end?.line)
    const header = env.sink.messages.at(-1)!.headers.find((h) => h.startsWith('X-Smarthost-Guard-Scan:'))
    assert.equal(header, 'X-Smarthost-Guard-Scan: tag; score=3; flags=encrypted_archive')
    await waitFor(() => lastTx()?.outcome === 'delivered')
    assert.ok(lastTx()!.flags.includes('SCAN_ENCRYPTED_ARCHIVE'))
  })

  it('handles malformed MIME: flags it, tags it and relays it unchanged', async () => {
    const raw = [
      'From: alice@customer.test',
      'To: bob@remote.test',
      'Subject: broken',
      'Content-Type: multipart/mixed',
      'this line is no header',
      '',
      '--nowhere',
      'Content-Type: application/octet-stream',
      'Content-Transfer-Encoding: base64',
      '',
      '%%% not base64 at all %%%',
      '',
    ].join('\r\n')
    const r = await send(raw)
    assert.equal(r.end?.code, 250, r.end?.line)
    await waitFor(() => lastTx()?.outcome === 'delivered')
    const tx = lastTx()!
    assert.deepEqual(tx.scan.flags, ['malformed_mime'])
    assert.equal(tx.scan.decision, 'tag')
    assert.ok(env.sink.messages.at(-1)!.text.includes('%%% not base64 at all %%%'))
  })

  it('counts scans, rule hits, flags and dispositions in the metrics', async () => {
    const text = await (await fetch(env.relay.adminUrl('/metrics'))).text()
    assert.match(text, /^smarthost_scans_total\{relay_instance="outbound",result="scanned"\} [1-9]\d*$/m)
    assert.match(text, /^smarthost_scan_rule_hits_total\{relay_instance="outbound",rule="EICAR_Test_File"\} [1-9]\d*$/m)
    assert.match(text, /^smarthost_scan_flags_total\{relay_instance="outbound",flag="malformed_mime"\} [1-9]\d*$/m)
    assert.match(text, /^smarthost_scan_dispositions_total\{relay_instance="outbound",disposition="reject"\} [1-9]\d*$/m)
    assert.match(text, /^smarthost_scan_duration_seconds_count\{relay_instance="outbound"\} [1-9]\d*$/m)
    assert.match(text, /^smarthost_quarantine_messages_total\{relay_instance="outbound",kind="refused"\} [1-9]\d*$/m)
  })
})
