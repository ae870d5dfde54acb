import assert from 'node:assert/strict'
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { startRelay, testPolicy } from '../helpers/relay.js'
import type { TestRelay } from '../helpers/relay.js'
import * as samples from '../helpers/samples.js'
import { RULES_DIR, scanning } from '../helpers/scan.js'
import { startSink } from '../helpers/sink.js'
import type { Sink } from '../helpers/sink.js'
import { sendOne } from '../helpers/smtp-client.js'

// Rules are compiled at start and on reload; a rule file that does not compile makes the
// reload fail with its file and line, and the running rules stay.

const BROKEN = `rule Reload_Marker
{
  meta:
    action = "reject"
  condition:
    $missing and
}
`
const FIXED = `rule Reload_Marker
{
  meta:
    score = 50
    action = "reject"
    description = "it carries the reload marker"
  strings:
    $marker = "RELOAD-MARKER-7f3a"
  condition:
    $marker
}
`

describe('rules on reload', () => {
  let rules: string
  let sink: Sink
  let relay: TestRelay
  before(async () => {
    rules = await mkdtemp(join(tmpdir(), 'shg-rules-'))
    await copyFile(join(RULES_DIR, 'eicar.yar'), join(rules, 'eicar.yar'))
    sink = await startSink()
    relay = await startRelay(testPolicy([sink.port], scanning({ rules })))
  })
  after(async () => {
    await relay.close()
    await sink.close()
    await rm(rules, { recursive: true, force: true })
  })

  const send = async (text: string, attachment?: string) =>
    (
      await sendOne(
        relay.port('submission'),
        'alice@customer.test',
        ['bob@remote.test'],
        await samples.mimeMessage({ text, attachments: attachment ? [{ filename: 'eicar.com', content: attachment }] : [] }),
      )
    ).end?.line ?? ''

  it('refuses a reload whose rule file does not compile, names its file and line, and keeps the running rules', async () => {
    assert.match(await send('clean', samples.eicar()), /^554 5\.7\.1 Message refused: it contains the EICAR/)
    await writeFile(join(rules, 'marker.yar'), BROKEN)
    const result = await relay.service.reload()
    assert.equal(result.ok, false)
    const issues = result.ok ? [] : result.issues
    assert.equal(issues.length, 1, issues.join('\n'))
    assert.match(issues[0]!, new RegExp(`^${relay.file.replace(/[.]/g, '\\.')}:\\d+:\\d+ instances\\.outbound\\.scan\\.rules: ${join(rules, 'marker.yar').replace(/[.]/g, '\\.')}:7:1: syntax error`))
    const logged = relay.logs.lines.find((l) => l.code === 'RELAY_ERR_CONFIG_INVALID')
    assert.ok(logged, 'the refused reload is logged')
    // The old rules still run: EICAR is refused, the marker is not known yet.
    assert.match(await send('clean', samples.eicar()), /^554 5\.7\.1 Message refused: it contains the EICAR/)
    assert.match(await send('RELOAD-MARKER-7f3a'), /^250 /)
  })

  it('applies the rules once the file is fixed', async () => {
    await writeFile(join(rules, 'marker.yar'), FIXED)
    assert.deepEqual(await relay.service.reload(), { ok: true })
    assert.equal(
      await send('RELOAD-MARKER-7f3a'),
      '554 5.7.1 Message refused: it carries the reload marker; see https://postmaster.example.net/why/reload-marker',
    )
    assert.match(await send('clean', samples.eicar()), /^554 5\.7\.1 Message refused: it contains the EICAR/)
  })
})
