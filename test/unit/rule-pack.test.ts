import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { loadEngine } from '../../src/scan/engine.js'
import { explode } from '../../src/scan/explode.js'
import { buildRuleSet, readRuleDir } from '../../src/scan/rule-set.js'
import * as s from '../helpers/samples.js'
import { LIMITS, RULES_DIR, scanHere } from '../helpers/scan.js'

// Every rule of the default pack, with the sample the suite builds for it (no malware in the
// repository). A rule without a sample, or a sample its rule misses, fails here.

type Sample = () => Promise<string>
const attach = (filename: string, content: Buffer | string | Promise<Buffer>, text?: string): Sample => async () =>
  s.mimeMessage({ ...(text ? { text } : {}), attachments: [{ filename, content: await content }] })

const SAMPLES: Record<string, Sample> = {
  EICAR_Test_File: attach('eicar.com', s.eicar()),
  Executable_Windows_PE: attach('update.bin', s.peExecutable()),
  Executable_ELF: attach('helper', s.elfExecutable()),
  Executable_MachO: attach('helper-mac', s.machoExecutable()),
  Double_Extension_Executable: attach('invoice.pdf.exe', 'not even a program'),
  Script_Attachment: attach('invoice.js', 'var x = 1;'),
  Container_Trick_Attachment: attach('scan.iso', 'an empty image'),
  Windows_Shortcut_Content: attach('readme.txt', s.windowsShortcut()),
  Disk_Image_Content: attach('data.bin', s.isoImage()),
  OneNote_Content: attach('notes.dat', s.oneNote()),
  Script_Dropper_Content: attach('notes.txt', s.scriptDropper()),
  Office_Macro_OOXML: attach('figures.docx', s.docm()),
  Office_Macro_OLE: attach('figures.doc', s.oleWithMacros()),
  HTML_Credential_Form: async () => s.mimeMessage({ html: s.phishingHtml() }),
  Advance_Fee_Fraud_Text: async () => s.mimeMessage({ text: s.advanceFeeText() }),
  Crypto_Scam_Text: async () => s.mimeMessage({ text: s.cryptoScamText() }),
}

async function ruleNames(): Promise<string[]> {
  const files = await readRuleDir(RULES_DIR)
  return files.flatMap((f) => [...f.text.matchAll(/^rule\s+(\w+)/gm)].map((m) => m[1] ?? ''))
}

describe('the default rule pack', () => {
  it('has a built sample for every rule and a rule for every sample', async () => {
    assert.deepEqual((await ruleNames()).sort(), Object.keys(SAMPLES).sort())
  })

  for (const [rule, sample] of Object.entries(SAMPLES)) {
    it(`${rule}: matches its sample, with score, action and description`, async () => {
      const report = await scanHere(await sample())
      const hit = report.hits.find((h) => h.rule === rule)
      assert.ok(hit, `${rule} did not match; hits: ${report.hits.map((h) => h.rule).join(', ') || 'none'}`)
      assert.ok(hit.score > 0, 'a score')
      assert.ok(['tag', 'quarantine', 'reject'].includes(hit.action), 'an action')
      assert.notEqual(hit.description, rule, 'a description for the customer')
      const text = (await readRuleDir(RULES_DIR)).find((f) => f.text.includes(`rule ${rule}`))!.text
      const meta = /meta:([\s\S]*?)(strings:|condition:)/.exec(text.slice(text.indexOf(`rule ${rule}`)))?.[1] ?? ''
      for (const key of ['score', 'action', 'description']) assert.match(meta, new RegExp(`^\\s*${key} = `, 'm'), `meta ${key}`)
    })
  }

  it('matches nothing in ordinary business mail', async () => {
    const raw = await s.mimeMessage({
      subject: 'Invoice 2026-118',
      text: 'Dear Mr Smith,\r\nplease find our invoice attached. Payment within 30 days.\r\nBest regards\r\n',
      html: '<p>Dear Mr Smith,</p><p>please find our invoice attached.</p><form action="/search"><input name="q"></form>',
      attachments: [
        { filename: 'invoice-2026-118.pdf', content: '%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n' },
        { filename: 'terms.docx', content: await s.zip([{ name: 'word/document.xml', content: '<w:document/>' }]) },
        { filename: 'photo.png', content: Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex') },
      ],
    })
    const report = await scanHere(raw)
    assert.deepEqual(report.hits, [])
    assert.deepEqual(report.flags, [])
  })

  it('gives the same hits with the native and the WebAssembly engine', async () => {
    const files = await readRuleDir(RULES_DIR)
    const engines = await Promise.all((['native', 'wasm'] as const).map(async (kind) => (await loadEngine(kind)).compile(buildRuleSet(files, kind).source, 10_000)))
    for (const [rule, sample] of Object.entries(SAMPLES)) {
      const raw = Buffer.from(await sample(), 'latin1')
      const hits = await Promise.all(
        engines.map(async (rules, i) => {
          const r = await explode(raw, { rules, engine: String(i), rulesId: 'x', externals: { client_class: '', sender_domain: '' }, limits: LIMITS })
          return r.hits.map((h) => `${h.rule}@${h.objects.join('+')}`).sort()
        }),
      )
      assert.deepEqual(hits[1], hits[0], rule)
    }
  })

  it('ships no EICAR file: the rule splits the string and this suite builds it', async () => {
    const text = await readFile(join(RULES_DIR, 'eicar.yar'), 'utf8')
    assert.ok(!text.includes(s.eicar().replace('\\', '\\\\')))
  })
})
