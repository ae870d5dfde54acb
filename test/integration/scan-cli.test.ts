import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runCli } from '../helpers/process.js'
import * as samples from '../helpers/samples.js'

// `smarthost-guard scan` with the embedded default policy (its rule pack and data checks).

describe('smarthost-guard scan', () => {
  let dir: string
  const file = (name: string) => join(dir, name)
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shg-scan-'))
    const archive = await samples.zip([
      { name: 'readme.txt', content: 'see attached' },
      { name: 'eicar.com', content: samples.eicar() },
    ])
    await writeFile(file('eicar.eml'), await samples.mimeMessage({ attachments: [{ filename: 'files.zip', content: archive }] }))
    await writeFile(file('clean.eml'), await samples.mimeMessage({ subject: 'lunch' }))
    await writeFile(file('macro.eml'), await samples.mimeMessage({ attachments: [{ filename: 'figures.docm', content: await samples.docm() }] }))
  })
  after(() => rm(dir, { recursive: true, force: true }))

  it('prints the explosion tree, the flags, the rule hits, the checks and the decision', async () => {
    const r = await runCli(['scan', file('eicar.eml')])
    assert.equal(r.code, 1, r.stderr)
    const lines = r.stdout.split('\n')
    assert.match(lines[1] ?? '', /^6 objects, \d+ bytes decoded, \d+ ms, (native|wasm) engine, rules [0-9a-f]{16}$/)
    assert.match(r.stdout, /^#0 message {2}message\/rfc822 {2}\d+ B {2}sha256 [0-9a-f]{16}…$/m)
    assert.match(r.stdout, /^└─ #1 multipart {2}multipart\/mixed$/m)
    assert.match(r.stdout, /^ {3}└─ #3 part {2}application\/zip {2}"files\.zip" {2}\d+ B {2}sha256 [0-9a-f]{16}…$/m)
    assert.match(r.stdout, /^ {6}├─ #4 member {2}text\/plain {2}"readme\.txt" {2}12 B/m)
    assert.match(r.stdout, /^ {6}└─ #5 member {2}text\/plain {2}"eicar\.com" {2}68 B {2}sha256 [0-9a-f]{16}… {2}hits: EICAR_Test_File {2}flags: virus$/m)
    assert.match(r.stdout, /^ {2}EICAR_Test_File: score 100, reject: it contains the EICAR anti-virus test file \(object #5\)$/m)
    assert.match(r.stdout, /^ {2}data\.content_scan: reject \(it contains the EICAR anti-virus test file\)$/m)
    assert.match(r.stdout, /^decision: reject 554 5\.7\.1 Message refused: it contains the EICAR anti-virus test file$/m)
  })

  it('says a clean message would be relayed (exit 0) and a macro document held', async () => {
    const clean = await runCli(['scan', file('clean.eml')])
    assert.equal(clean.code, 0, clean.stderr)
    assert.match(clean.stdout, /^decision: relay$/m)
    const macro = await runCli(['scan', file('macro.eml')])
    assert.equal(macro.code, 1)
    assert.match(macro.stdout, /^decision: quarantine 554 5\.7\.1 Message held for review by the postmaster, not delivered: Office document with macros/m)
  })

  it('reads an LF-only file as CRLF, as SMTP carries it: no bare LF is reported', async () => {
    const crlf = await samples.mimeMessage({ subject: 'saved by a mail client' })
    await writeFile(file('lf-only.eml'), crlf.replaceAll('\r\n', '\n'), 'latin1')
    const r = await runCli(['scan', file('lf-only.eml')])
    assert.equal(r.code, 0, r.stdout + r.stderr)
    assert.doesNotMatch(r.stdout, /bare LF/)
    assert.match(r.stdout, /^decision: relay$/m)
  })

  it('still reports a file that mixes CRLF with bare LF', async () => {
    const crlf = await samples.mimeMessage({ subject: 'smuggled' })
    await writeFile(file('mixed.eml'), `${crlf}\n.\nMAIL FROM:<x@y.test>\r\n`, 'latin1')
    const r = await runCli(['scan', file('mixed.eml')])
    assert.match(r.stdout, /^ {2}data\.line_endings: tag \(2 bare LF, 0 bare CR, normalized to CRLF\)$/m)
  })

  it('prints the report as JSON with --json', async () => {
    const r = await runCli(['scan', '--json', file('eicar.eml')])
    const out = JSON.parse(r.stdout) as {
      report: { objects: { id: number; parent: number | null; filename: string | null; sha256: string; depth: number; sniffedType: string | null }[]; hits: { rule: string; objects: number[] }[] }
      decision: { outcome: string; reply: string }
    }
    assert.equal(out.decision.outcome, 'reject')
    const member = out.report.objects.find((o) => o.filename === 'eicar.com')!
    assert.deepEqual({ parent: member.parent, depth: member.depth }, { parent: 3, depth: 3 })
    assert.equal(member.sha256.length, 64)
    assert.deepEqual(out.report.hits.map((h) => [h.rule, h.objects]), [['EICAR_Test_File', [5]]])
  })

  it('has --help for scan and quarantine', async () => {
    for (const command of ['scan', 'quarantine']) {
      const r = await runCli([command, '--help'])
      assert.equal(r.code, 0)
      assert.match(r.stdout, new RegExp(`^Usage: smarthost-guard ${command}`))
    }
  })

  it('refuses a missing file argument with the usage', async () => {
    const r = await runCli(['scan'])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /give exactly one message file/)
  })
})
