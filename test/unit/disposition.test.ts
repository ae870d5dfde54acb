import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { DispositionPolicy } from '../../src/scan/disposition.js'
import { dispose, kebab } from '../../src/scan/disposition.js'
import type { RuleHit, ScanReport } from '../../src/scan/types.js'

function report(hits: Partial<RuleHit>[] = [], flags: string[] = []): ScanReport {
  return {
    objects: [],
    flags: flags.map((flag) => ({ flag, detail: 'test', object: 0 })),
    hits: hits.map((h, i) => ({ rule: `Rule_${i}`, score: 1, action: 'tag', description: `rule ${i}`, flags: [], objects: [0], ...h })),
    bytes: 0,
    ms: 1,
    complete: true,
    engine: 'native',
    rules: 'x',
  }
}

const POLICY: DispositionPolicy = {
  flagActions: { archive_bomb: { action: 'reject' }, scan_limit: { action: 'quarantine' }, encrypted_archive: { action: 'tag', score: 3 }, busy: { action: 'tempfail' }, noise: { action: 'ignore' } },
  quarantineAt: 10,
  rejectAt: 20,
}

describe('dispositioner', () => {
  it('accepts a message with no hit and no flag', () => {
    assert.deepEqual(dispose(report(), [], 0, POLICY), { kind: 'accept', score: 0, total: 0, reason: 'clean', description: 'nothing found' })
  })

  it('follows the action of the strongest rule: reject beats quarantine beats tag, whatever the order', () => {
    const d = dispose(report([{ action: 'quarantine', score: 8 }, { rule: 'EICAR_Test_File', action: 'reject', score: 100, description: 'eicar' }, { action: 'tag', score: 1 }]), [], 0, POLICY)
    assert.equal(d.kind, 'reject')
    assert.equal(d.rule, 'EICAR_Test_File')
    assert.equal(d.reason, 'eicar-test-file')
    assert.equal(d.description, 'eicar')
    assert.equal(d.score, 109)
  })

  it('applies flag actions: reject, tempfail, quarantine, tag scores and ignore', () => {
    assert.equal(dispose(report([], ['archive_bomb']), [], 0, POLICY).kind, 'reject')
    assert.equal(dispose(report([], ['archive_bomb']), [], 0, POLICY).description, 'an attached archive expands far beyond its own size (archive bomb)')
    assert.equal(dispose(report([], ['busy', 'scan_limit']), [], 0, POLICY).kind, 'tempfail')
    assert.equal(dispose(report([], ['scan_limit']), [], 0, POLICY).reason, 'scan-limit')
    const tagged = dispose(report([], ['encrypted_archive', 'noise']), [], 0, POLICY)
    assert.deepEqual([tagged.kind, tagged.score], ['tag', 3])
    assert.equal(dispose(report([], ['noise']), [], 0, POLICY).kind, 'accept')
  })

  it('acts on flags of earlier checks too (HDR_… from the header screening)', () => {
    const policy = { ...POLICY, flagActions: { ...POLICY.flagActions, HDR_FROM_MISMATCH: { action: 'quarantine' as const } } }
    assert.equal(dispose(report(), ['HDR_FROM_MISMATCH'], 0, policy).kind, 'quarantine')
  })

  it('adds the earlier stages\u2019 score and compares the total with the thresholds', () => {
    const hits = [{ rule: 'Advance_Fee_Fraud_Text', action: 'tag' as const, score: 6, description: 'fraud text' }]
    assert.equal(dispose(report(hits), [], 0, POLICY).kind, 'tag')
    const held = dispose(report(hits), [], 5, POLICY)
    assert.deepEqual([held.kind, held.reason, held.total], ['quarantine', 'score', 11])
    assert.equal(held.description, 'content score 11 reached the limit of 10: fraud text (Advance_Fee_Fraud_Text)')
    assert.equal(dispose(report(hits), [], 14, POLICY).kind, 'reject')
    assert.equal(dispose(report(hits), [], 14, { ...POLICY, rejectAt: null, quarantineAt: null }).kind, 'tag')
  })

  it('makes reply tokens of rule names', () => {
    assert.equal(kebab('Office_Macro_OOXML'), 'office-macro-ooxml')
    assert.equal(kebab('HTMLCredentialForm'), 'htmlcredential-form')
    assert.equal(kebab('__'), 'content')
  })
})
