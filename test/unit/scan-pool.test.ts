import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RelayError } from '../../src/errors/relay-error.js'
import { ScanPool } from '../../src/scan/pool.js'
import { buildRuleSet, readRuleDir } from '../../src/scan/rule-set.js'
import * as samples from '../helpers/samples.js'
import { LIMITS, RULES_DIR, quiet } from '../helpers/scan.js'

// The pool of scanner threads: real worker threads running the real explosion and rules.

const EXTERNALS = { client_class: 'unknown', sender_domain: 'customer.test' }
const rules = async () => buildRuleSet(await readRuleDir(RULES_DIR), 'native')
const bytes = (s: string) => Buffer.from(s, 'latin1')

describe('scanner thread pool', () => {
  it('scans messages on its threads, each with its own report, in parallel', async (t) => {
    const pool = new ScanPool('test', { workers: 2, queue: 10, memoryBytes: LIMITS.memoryBytes }, quiet)
    t.after(() => pool.close())
    const set = await rules()
    const eicar = bytes(await samples.mimeMessage({ attachments: [{ filename: 'a.zip', content: await samples.zip([{ name: 'e.com', content: samples.eicar() }]) }] }))
    const clean = bytes(await samples.mimeMessage({ text: 'nothing to see' }))
    const reports = await Promise.all([eicar, clean, eicar, clean, eicar].map((raw) => pool.scan(raw, set, EXTERNALS, LIMITS, Infinity)))
    assert.deepEqual(reports.map((r) => r.hits.map((h) => h.rule).join()), ['EICAR_Test_File', '', 'EICAR_Test_File', '', 'EICAR_Test_File'])
    assert.deepEqual(reports.map((r) => r.engine), Array(5).fill('native'))
    assert.equal(pool.stats.workers, 2)
    assert.deepEqual({ busy: pool.stats.busy, queued: pool.stats.queued }, { busy: 0, queued: 0 })
  })

  it('hands a busy thread several messages at once and still answers each with its own report', async (t) => {
    const pool = new ScanPool('test', { workers: 1, queue: 40, memoryBytes: LIMITS.memoryBytes }, quiet)
    t.after(() => pool.close())
    const set = await rules()
    const eicar = bytes(await samples.mimeMessage({ attachments: [{ filename: 'e.com', content: samples.eicar() }] }))
    const clean = bytes(await samples.mimeMessage({ text: 'nothing to see' }))
    const kinds = Array.from({ length: 12 }, (_, i) => (i % 3 === 0 ? eicar : clean))
    const first = kinds.map((raw) => pool.scan(raw, set, EXTERNALS, LIMITS, Infinity))
    // More while the thread works through the first ones: they go over as it runs low.
    await first[0]
    const second = kinds.map((raw) => pool.scan(raw, set, EXTERNALS, LIMITS, Infinity))
    const reports = await Promise.all([...first, ...second])
    const expected = [...kinds, ...kinds].map((raw) => (raw === eicar ? 'EICAR_Test_File' : ''))
    assert.deepEqual(reports.map((r) => r.hits.map((h) => h.rule).join()), expected)
    assert.deepEqual({ workers: pool.stats.workers, busy: pool.stats.busy, queued: pool.stats.queued }, { workers: 1, busy: 0, queued: 0 })
  })

  it('replaces a thread that does not answer within the time limit, flags that message and scans the next one on a fresh thread', async (t) => {
    // No grace and a 1 ms limit: the thread cannot even start in time.
    const pool = new ScanPool('test', { workers: 1, queue: 10, memoryBytes: LIMITS.memoryBytes, graceMs: 0 }, quiet)
    t.after(() => pool.close())
    const set = await rules()
    const raw = bytes(await samples.mimeMessage({ attachments: [{ filename: 'e.com', content: samples.eicar() }] }))
    const [stopped, next] = await Promise.all([
      pool.scan(raw, set, EXTERNALS, { ...LIMITS, timeMs: 1 }, Infinity),
      pool.scan(raw, set, EXTERNALS, { ...LIMITS, timeMs: 60_000 }, Infinity),
    ])
    assert.equal(stopped.complete, false)
    assert.deepEqual(stopped.flags.map((f) => f.flag), ['scan_limit'])
    assert.match(stopped.flags[0]!.detail, /^time: the scan did not stop within 1 ms; the scanner thread was replaced$/)
    assert.equal(next.complete, true)
    assert.deepEqual(next.hits.map((h) => h.rule), ['EICAR_Test_File'])
  })

  it('refuses a scan with RELAY_ERR_SCAN_BUSY when every thread is busy and the queue is full', async (t) => {
    const pool = new ScanPool('test', { workers: 1, queue: 0, memoryBytes: LIMITS.memoryBytes }, quiet)
    t.after(() => pool.close())
    const set = await rules()
    const raw = bytes(await samples.mimeMessage({}))
    const first = pool.scan(raw, set, EXTERNALS, LIMITS, Infinity)
    await assert.rejects(pool.scan(raw, set, EXTERNALS, LIMITS, Infinity), (err: unknown) => err instanceof RelayError && err.code === 'RELAY_ERR_SCAN_BUSY')
    assert.equal((await first).complete, true)
  })

  it('fails scans still waiting when it is closed', async () => {
    const pool = new ScanPool('test', { workers: 1, queue: 10, memoryBytes: LIMITS.memoryBytes }, quiet)
    const set = await rules()
    const raw = bytes(await samples.mimeMessage({}))
    const settled = Promise.allSettled([1, 2, 3].map(() => pool.scan(raw, set, EXTERNALS, LIMITS, Infinity)))
    await pool.close()
    const results = await settled
    assert.ok(results.every((r) => r.status === 'rejected' && r.reason instanceof RelayError && r.reason.code === 'RELAY_ERR_SCAN_FAILED'))
  })
})
