import assert from 'node:assert/strict'
import { appendFile, mkdtemp, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { FileOutbox } from '../../src/alerts/file-outbox.js'
import { openIncident } from '../../src/alerts/incident.js'
import { defaultRules } from '../../src/alerts/schema.js'
import { detailsEvidence } from '../../src/alerts/evidence.js'
import type { Delivery } from '../../src/alerts/store.js'

const incident = openIncident(
  {
    rule: defaultRules()[0]!,
    key: 'address:192.0.2.7',
    clientClass: 'default',
    window: '5m',
    observed: 600,
    baseline: null,
    threshold: 500,
    summary: '600 messages in 5m (threshold 500)',
    evidence: detailsEvidence({}),
  },
  1_000,
)
const delivery = (id: string, event: Delivery['event'], at: number, sender = 'desk'): Delivery => ({
  id,
  sender,
  incident_id: incident.id,
  event,
  incident: { ...incident, observed: at },
  attempts: 0,
  next_at: at,
  created_at: at,
})

describe('the file outbox (memory backend)', () => {
  it('folds a newer event for the same sender and incident into the waiting one, keeping its age, across a restart', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'shg-outbox-')), 'outbox.jsonl')
    const box = await FileOutbox.open(file)
    await box.put(delivery('evt_1', 'firing', 1_000))
    await box.put(delivery('evt_2', 'updated', 2_000))
    await box.put(delivery('evt_3', 'firing', 1_500, 'rt'))
    assert.deepEqual((await box.due(5_000, 10)).map((d) => [d.id, d.event, d.created_at]), [
      ['evt_3', 'firing', 1_500],
      ['evt_2', 'updated', 1_000],
    ])
    await box.retry((await box.due(5_000, 10))[0]!, 9_000, 'connection refused')
    await box.close()

    const again = await FileOutbox.open(file)
    assert.deepEqual(await again.stats(), { size: 2, oldest: 1_000 })
    assert.deepEqual((await again.due(5_000, 10)).map((d) => d.id), ['evt_2'], 'the retried one waits for its time')
    const [rt] = await again.due(9_000, 10).then((l) => l.filter((d) => d.sender === 'rt'))
    assert.deepEqual([rt?.attempts, rt?.last_error], [1, 'connection refused'])
    await again.done((await again.due(5_000, 10))[0]!)
    await again.close()
    assert.deepEqual(await (await FileOutbox.open(file)).stats(), { size: 1, oldest: 1_500 })
  })

  it('skips a line torn by a crash in the middle of a write', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'shg-outbox-')), 'outbox.jsonl')
    const box = await FileOutbox.open(file)
    await box.put(delivery('evt_1', 'firing', 1_000))
    await box.close()
    await appendFile(file, '{"op":"done","id":"ev')
    const again = await FileOutbox.open(file)
    assert.deepEqual((await again.due(5_000, 10)).map((d) => d.id), ['evt_1'])
    await again.close()
    assert.doesNotMatch(await readFile(file, 'utf8'), /"ev$/, 'compacted at open')
  })
})
