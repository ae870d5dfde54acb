import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { pino } from 'pino'
import { policyReject, policyTempfail } from '../../src/errors/replies.js'
import type { CompiledCheck } from '../../src/pipeline/compile.js'
import { decideScore } from '../../src/pipeline/decide.js'
import type { SessionRecord } from '../../src/pipeline/record.js'
import { runStage } from '../../src/pipeline/runner.js'
import type { ScoreSink } from '../../src/pipeline/runner.js'
import type { CheckFn, StageContext } from '../../src/pipeline/types.js'

const log = pino({ level: 'silent' })
const session = { id: 's1', instance: 'outbound', clientClass: 'residential-dynamic', client: { address: '192.0.2.1', port: 1, ptr: null } } as unknown as SessionRecord
const ctx: StageContext = { stage: 'mail', session, log }
const farFuture = () => Date.now() + 60_000

function check(id: string, run: CheckFn, opts: Partial<CompiledCheck> = {}): CompiledCheck {
  return { id, stage: 'mail', core: false, mode: 'enforce', timeoutMs: 1000, onError: 'continue', appliesTo: () => true, run, ...opts }
}
const sink = (): ScoreSink => ({ score: 0, flags: [], checks: [], headers: [] })

describe('stage runner', () => {
  it('ends the stage at the first reject and does not run later checks', async () => {
    let ran = false
    const s = sink()
    const d = await runStage(
      [
        check('mail.a', () => ({ kind: 'tag', score: 2, flags: ['A'], detail: 'a' })),
        check('mail.b', () => ({ kind: 'reject', reply: policyReject('no'), flags: ['B'] })),
        check('mail.c', () => ((ran = true), { kind: 'continue' })),
      ],
      ctx,
      s,
      farFuture(),
    )
    assert.equal(d?.kind, 'reject')
    assert.equal(d?.check, 'mail.b')
    assert.equal(ran, false)
    assert.equal(s.score, 2)
    assert.deepEqual(s.flags, ['A', 'B'])
    assert.deepEqual(s.checks.map((c) => c.outcome), ['tag', 'reject'])
  })

  it('adds up tags and records every verdict with its detail', async () => {
    const s = sink()
    const d = await runStage(
      [
        check('mail.a', () => ({ kind: 'tag', score: 1.5, flags: ['X'], detail: 'zen(127.0.0.4)' })),
        check('mail.b', () => Promise.resolve({ kind: 'tag', score: 2, flags: ['Y'], detail: 'y' })),
      ],
      ctx,
      s,
      farFuture(),
    )
    assert.equal(d, null)
    assert.equal(s.score, 3.5)
    assert.equal(s.checks[0]?.detail, 'zen(127.0.0.4)')
  })

  it('in warn mode records what it would have refused and changes nothing', async () => {
    const s = sink()
    const d = await runStage(
      [
        check('mail.w', () => ({ kind: 'reject', reply: policyReject('would refuse'), flags: ['W'] }), { mode: 'warn' }),
        check('mail.t', () => ({ kind: 'tag', score: 5, flags: ['T'], detail: 't' }), { mode: 'warn' }),
      ],
      ctx,
      s,
      farFuture(),
    )
    assert.equal(d, null)
    assert.equal(s.score, 0)
    assert.deepEqual(s.flags, [])
    assert.deepEqual(s.checks.map((c) => [c.check, c.outcome, c.warn]), [
      ['mail.w', 'reject', true],
      ['mail.t', 'tag', true],
    ])
    assert.equal(s.checks[0]?.reply, '550 5.7.1 would refuse')
  })

  it('lets accept skip the remaining policy checks of the stage but never a core check', async () => {
    const ran: string[] = []
    const s = sink()
    const d = await runStage(
      [
        check('mail.allow', () => ({ kind: 'accept', detail: 'whitelisted' })),
        check('mail.policy', () => (ran.push('policy'), { kind: 'reject', reply: policyReject('x') })),
        check('mail.core', () => (ran.push('core'), { kind: 'tempfail', reply: policyTempfail('core says wait') }), { core: true }),
      ],
      ctx,
      s,
      farFuture(),
    )
    assert.deepEqual(ran, ['core'])
    assert.equal(d?.kind, 'tempfail')
  })

  it('passes on that a refusal marks the client as offending (for the tarpit), and only when it says so', async () => {
    const limited = await runStage([check('mail.rate', () => ({ kind: 'tempfail', reply: policyTempfail('x'), offending: true }))], ctx, sink(), farFuture())
    assert.equal(limited?.kind === 'tempfail' && limited.offending, true)
    const plain = await runStage([check('mail.spf', () => ({ kind: 'tempfail', reply: policyTempfail('x') }))], ctx, sink(), farFuture())
    assert.equal(plain?.kind === 'tempfail' && plain.offending, undefined)
  })

  it('turns a throw into outcome error and continues, or tempfails with 451 4.3.0 when on_error says so', async () => {
    const boom: CheckFn = () => {
      throw new Error('resolver exploded')
    }
    const s = sink()
    assert.equal(await runStage([check('mail.x', boom)], ctx, s, farFuture()), null)
    assert.equal(s.checks[0]?.outcome, 'error')
    assert.match(s.checks[0]?.detail ?? '', /check mail\.x failed: Error: resolver exploded/)
    const d = await runStage([check('mail.x', boom, { onError: 'tempfail' })], ctx, sink(), farFuture())
    assert.equal(d?.kind === 'tempfail' && d.reply.toString(), '451 4.3.0 Temporary local problem; please try again later')
  })

  it('bounds a slow check by its timeout', async () => {
    const slow: CheckFn = () => new Promise((resolve) => setTimeout(() => resolve({ kind: 'continue' }), 5000).unref())
    const s = sink()
    const started = Date.now()
    const d = await runStage([check('mail.slow', slow, { timeoutMs: 50, onError: 'tempfail' })], ctx, s, farFuture())
    assert.ok(Date.now() - started < 1000)
    assert.equal(d?.kind, 'tempfail')
    assert.match(s.checks[0]?.detail ?? '', /did not answer within 50 ms/)
  })

  it('collects the header fields of enforced verdicts only', async () => {
    const s = sink()
    await runStage(
      [
        check('mail.spf', () => ({ kind: 'continue', headers: [{ name: 'Received-SPF', value: 'pass' }] })),
        check('mail.w', () => ({ kind: 'tag', score: 1, flags: [], detail: 'w', headers: [{ name: 'X-Would', value: '1' }] }), { mode: 'warn' }),
      ],
      ctx,
      s,
      farFuture(),
    )
    assert.deepEqual(s.headers, [{ name: 'Received-SPF', value: 'pass' }])
  })

  it('passes a verdict’s reclassify to the session, naming the check', async () => {
    const moves: [string, string][] = []
    await runStage(
      [check('connect.rdns', () => ({ kind: 'continue', reclassify: 'residential-dynamic' }))],
      { ...ctx, reclassify: (c, by) => moves.push([c, by]) },
      sink(),
      farFuture(),
    )
    assert.deepEqual(moves, [['residential-dynamic', 'connect.rdns']])
  })

  it('runs a check only for the client classes it applies to', async () => {
    const s = sink()
    const d = await runStage(
      [
        check('mail.business_only', () => ({ kind: 'reject', reply: policyReject('x') }), { appliesTo: (c) => c === 'business-static' }),
        check('mail.all', () => ({ kind: 'tag', score: 1, flags: ['ALL'], detail: 'all' })),
      ],
      ctx,
      s,
      farFuture(),
    )
    assert.equal(d, null)
    assert.deepEqual(s.checks.map((c) => c.check), ['mail.all'])
  })

  it('remembers a quarantine but lets a later reject win', async () => {
    const q = await runStage([check('data.q', () => ({ kind: 'quarantine', reason: 'macro' }))], { ...ctx, stage: 'data' }, sink(), farFuture())
    assert.equal(q?.kind, 'quarantine')
    const r = await runStage(
      [
        check('data.q', () => ({ kind: 'quarantine', reason: 'macro' })),
        check('data.r', () => ({ kind: 'reject', reply: policyReject('virus') })),
      ],
      { ...ctx, stage: 'data' },
      sink(),
      farFuture(),
    )
    assert.equal(r?.kind, 'reject')
  })
})

describe('score thresholds', () => {
  const scoring = { tempfail_at: 5, reject_at: 10, decide_at: ['rcpt', 'data'] as ('rcpt' | 'data')[] }

  it('decides only at the stages in decide_at', () => {
    assert.equal(decideScore(scoring, 'mail', 50, false), null)
    assert.equal(decideScore(scoring, 'rcpt', 50, false)?.kind, 'reject')
  })

  it('tempfails between the thresholds and rejects above with specific replies', () => {
    assert.equal(decideScore(scoring, 'data', 4.99, false), null)
    assert.equal(String(decideScore(scoring, 'data', 5, false)?.reply), '451 4.7.1 Message deferred by policy (spam score 5, limit 5); please try again later')
    assert.equal(String(decideScore(scoring, 'data', 12.5, false)?.reply), '550 5.7.1 Message refused by policy (spam score 12.5, limit 10)')
  })

  it('never turns a tempfail already given in the transaction into a reject', () => {
    const d = decideScore(scoring, 'data', 12.5, true)
    assert.equal(d?.kind, 'tempfail')
    assert.equal(d?.reply.code, 451)
  })
})
