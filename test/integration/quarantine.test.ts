import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { runCli } from '../helpers/process.js'
import { relayWithSink, waitFor } from '../helpers/relay.js'
import * as samples from '../helpers/samples.js'
import { quarantineIndex, scanning } from '../helpers/scan.js'
import { sendOne } from '../helpers/smtp-client.js'

// Held for review through the relay, then listed, shown and released with the command line,
// which relays the kept message to the same next hop and records who released it.

describe('quarantine: hold, list, show, release', () => {
  const env = relayWithSink({}, scanning())
  let id = ''

  it('holds a macro document for review: 554 5.7.1 "held for review", nothing delivered, an index line of kind held', async () => {
    const raw = await samples.mimeMessage({ subject: 'Q3 figures', attachments: [{ filename: 'figures.docm', content: await samples.docm() }] })
    const before = env.sink.messages.length
    const r = await sendOne(env.relay.port('submission'), 'alice@customer.test', ['bob@remote.test', 'carol@remote.test'], raw)
    assert.equal(
      r.end?.line,
      '554 5.7.1 Message held for review by the postmaster, not delivered: Office document with macros (docm, xlsm, pptm) held for review; send it as docx, xlsx or PDF; see https://postmaster.example.net/why/office-macro-ooxml',
    )
    assert.equal(env.sink.messages.length, before)
    await waitFor(() => env.relay.logs.transactions().at(-1)?.tx.outcome === 'quarantined')
    id = String(env.relay.logs.transactions().at(-1)!.tx.id)
    const line = (await quarantineIndex(join(env.relay.dir, 'quarantine'))).find((l) => l.id === id)
    assert.ok(line)
    assert.equal(line.kind, 'held')
    assert.equal(line.reason, 'office-macro-ooxml')
    assert.deepEqual(line.recipients, ['bob@remote.test', 'carol@remote.test'])
    assert.equal((line.client as { address: string }).address, '127.0.0.1')
    assert.deepEqual(line.hits, ['Office_Macro_OOXML', 'Office_Macro_OLE'])
  })

  it('lists and shows it', async () => {
    const list = await runCli(['quarantine', 'list', '--config', env.relay.file])
    assert.equal(list.code, 0, list.stderr)
    assert.match(list.stdout, new RegExp(`^${id} \\S+ held office-macro-ooxml client=127\\.0\\.0\\.1 user=- from=<alice@customer\\.test> to=<bob@remote\\.test>,<carol@remote\\.test> size=\\d+ subject="Q3 figures" hits=Office_Macro_OOXML,Office_Macro_OLE$`, 'm'))
    const json = await runCli(['quarantine', 'list', '--json', '--reason', 'office-macro-ooxml', '--config', env.relay.file])
    assert.equal((JSON.parse(json.stdout) as { id: string }[])[0]?.id, id)
    const show = await runCli(['quarantine', 'show', id, '--config', env.relay.file])
    assert.equal(show.code, 0, show.stderr)
    assert.match(show.stdout, /^time: +\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/m)
    assert.match(show.stdout, /^client: +127\.0\.0\.1 /m)
    assert.match(show.stdout, /^sender: +<alice@customer\.test>$/m)
    assert.match(show.stdout, /^recipients: +<bob@remote\.test>, <carol@remote\.test>$/m)
    assert.match(show.stdout, /^decision: +held for review \(office-macro-ooxml\)$/m)
    assert.match(show.stdout, /^rule hits: +Office_Macro_OOXML, Office_Macro_OLE$/m)
    assert.match(show.stdout, /^ {2}Subject: Q3 figures$/m)
    assert.match(show.stdout, /^explosion tree .*:\n {2}#0 message /m)
    assert.doesNotMatch(show.stdout, /^\s*[{}]/m, 'a readable view, not JSON')
    const record = await runCli(['quarantine', 'show', id, '--json', '--config', env.relay.file])
    assert.equal((JSON.parse(record.stdout) as { reason: string }).reason, 'office-macro-ooxml')
    const raw = await runCli(['quarantine', 'show', id, '--raw', '--config', env.relay.file])
    assert.match(raw.stdout, /^Subject: Q3 figures\r?$/m)
    assert.equal(raw.stdout.length, (JSON.parse(record.stdout) as { size: number }).size)
  })

  it('releases it to the next hop with its envelope and records who did', async () => {
    const before = env.sink.messages.length
    const r = await runCli(['quarantine', 'release', id, '--by', 'jane.postmaster', '--config', env.relay.file])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, new RegExp(`^${id}: released by jane\\.postmaster: 250 2\\.0\\.0 Ok: queued as SINK\\d+$`, 'm'))
    assert.equal(env.sink.messages.length, before + 1)
    const got = env.sink.messages.at(-1)!
    assert.equal(got.from, 'alice@customer.test')
    assert.deepEqual(got.to, ['bob@remote.test', 'carol@remote.test'])
    assert.match(got.headers[0] ?? '', new RegExp(`^X-Smarthost-Guard-Released: from quarantine by jane\\.postmaster on .+ \\(id ${id}, reason office-macro-ooxml\\)$`))
    assert.ok(got.text.includes('Subject: Q3 figures'))
    const release = (await quarantineIndex(join(env.relay.dir, 'quarantine'))).find((l) => l.event === 'released' && l.id === id)
    assert.ok(release)
    assert.equal(release.by, 'jane.postmaster')
    assert.equal(release.delivered, true)
    assert.match(String(release.reply), /^250 /)
  })

  it('refuses a second release unless forced', async () => {
    const again = await runCli(['quarantine', 'release', id, '--config', env.relay.file])
    assert.equal(again.code, 1)
    assert.match(again.stderr, /already released; add --force/)
    const forced = await runCli(['quarantine', 'release', id, '--force', '--by', 'jane.postmaster', '--config', env.relay.file])
    assert.equal(forced.code, 0, forced.stderr)
    const list = await runCli(['quarantine', 'list', '--config', env.relay.file])
    assert.match(list.stdout, / released by jane\.postmaster \S+ released by jane\.postmaster \S+$/m)
  })
})
