import assert from 'node:assert/strict'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { QuarantineStore, reasonToken } from '../../src/quarantine/store.js'
import { quarantineIndex } from '../helpers/scan.js'

const entry = (id: string, reason = 'eicar-test-file') => ({
  id,
  kind: 'refused' as const,
  instance: 'outbound',
  client: { address: '192.0.2.7', ptr: null },
  user: null,
  sender: 'alice@customer.test',
  recipients: ['bob@remote.test'],
  subject: 'hello',
  reason,
  reply: '554 5.7.1 Message refused',
  hits: ['EICAR_Test_File'],
  flags: [],
})
const DAY = 86_400_000

describe('quarantine store', () => {
  let dir: string
  before(async () => (dir = await mkdtemp(join(tmpdir(), 'shg-q-'))))
  after(() => rm(dir, { recursive: true, force: true }))

  it('keeps messages by day and reason with an index line, lists them newest first, finds them by id prefix', async () => {
    const store = new QuarantineStore(join(dir, 'a'), { maxSize: 10_000, maxAgeMs: 30 * DAY })
    const first = await store.keep(entry('AAA1'), Buffer.from('message one'), new Date('2026-11-20T10:00:00Z'))
    assert.equal(first.file, '2026-11-20/eicar-test-file/AAA1.eml')
    await store.keep(entry('BBB2', 'Office Macro!'), Buffer.from('message two'), new Date('2026-11-21T10:00:00Z'))
    assert.deepEqual((await store.list()).map((e) => [e.id, e.file]), [
      ['BBB2', '2026-11-21/office-macro/BBB2.eml'],
      ['AAA1', '2026-11-20/eicar-test-file/AAA1.eml'],
    ])
    const found = await store.find('AA')
    assert.equal(found?.id, 'AAA1')
    assert.equal((await store.read(found)).toString(), 'message one')
    assert.equal((await quarantineIndex(join(dir, 'a'))).length, 2)
  })

  it('records releases in the index of the message\u2019s day', async () => {
    const store = new QuarantineStore(join(dir, 'a'), { maxSize: 10_000, maxAgeMs: 30 * DAY })
    const found = (await store.find('BBB2'))!
    await store.recordRelease(found, { by: 'jane', reply: '250 ok', delivered: true }, new Date('2026-11-22T08:00:00Z'))
    const again = (await store.find('BBB2'))!
    assert.deepEqual(again.releases.map((r) => [r.by, r.delivered, r.when]), [['jane', true, '2026-11-22T08:00:00.000Z']])
  })

  it('removes the oldest messages past the size limit and keeps their index lines', async () => {
    const store = new QuarantineStore(join(dir, 'b'), { maxSize: 25, maxAgeMs: 30 * DAY })
    const now = new Date('2026-11-22T10:00:00Z')
    for (const id of ['S1', 'S2', 'S3']) await store.keep(entry(id), Buffer.alloc(10, 65), new Date(now.getTime() + Number(id[1]) * 1000))
    const list = await store.list()
    assert.equal(list.length, 3, 'every index line stays')
    await assert.rejects(store.read(list.find((e) => e.id === 'S1')!), /ENOENT/)
    assert.equal((await store.read(list.find((e) => e.id === 'S3')!)).length, 10)
    // A fresh store (another process, a restart) measures what is on disk.
    const reopened = new QuarantineStore(join(dir, 'b'), { maxSize: 15, maxAgeMs: 30 * DAY })
    await reopened.prune(now)
    await assert.rejects(reopened.read(list.find((e) => e.id === 'S2')!), /ENOENT/)
  })

  it('removes days past the age limit', async () => {
    const store = new QuarantineStore(join(dir, 'c'), { maxSize: 10_000, maxAgeMs: 7 * DAY })
    await store.keep(entry('OLD'), Buffer.from('old'), new Date('2026-11-01T10:00:00Z'))
    await store.keep(entry('NEW'), Buffer.from('new'), new Date('2026-11-22T10:00:00Z'))
    assert.deepEqual(await readdir(join(dir, 'c')), ['2026-11-22'])
    assert.deepEqual((await store.list()).map((e) => e.id), ['NEW'])
  })

  it('makes folder-safe reason tokens', () => {
    assert.equal(reasonToken('../../etc/passwd'), 'etc-passwd')
    assert.equal(reasonToken(''), 'unspecified')
  })
})
