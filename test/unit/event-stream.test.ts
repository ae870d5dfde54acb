import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RelayEvents } from '../../src/events/relay-events.js'
import type { TransactionEvent } from '../../src/events/types.js'
import { logEvents } from '../../src/log/event-log.js'
import { createLogger, setLogFormat } from '../../src/log/logger.js'
import { textLine } from '../../src/log/text-line.js'
import { disconnectReason } from '../../src/smtp/session.js'
import { sampleSession, sampleTransaction } from '../bench/log-line.js'

const event = (): TransactionEvent => ({ type: 'transaction', time: Date.UTC(2026, 11, 2, 6, 0, 0), session: sampleSession(), tx: sampleTransaction(), check: null, reply: null })

describe('the event stream', () => {
  it('reports a subscriber that throws, and still delivers the event to the others', () => {
    const errors: unknown[] = []
    const events = new RelayEvents((err) => errors.push(err))
    const seen: string[] = []
    events.onTransaction(() => {
      throw new Error('broken subscriber')
    })
    events.onTransaction((e) => seen.push(e.tx.id))
    events.emitTransaction(event())
    assert.deepEqual(seen, ['238VW8PZDZ616Z'])
    assert.match(String(errors[0]), /broken subscriber/)
  })

  it('says whether anyone listens, so an emitter builds no event for nobody', () => {
    const events = new RelayEvents(() => undefined)
    assert.equal(events.wantsSessions, false)
    const off = events.onSession(() => undefined)
    assert.equal(events.wantsSessions, true)
    off()
    assert.equal(events.wantsSessions, false)
  })
})

describe('message evidence', () => {
  it('is asked for only while a subscriber that reads it is there', () => {
    const events = new RelayEvents(() => undefined)
    assert.equal(events.wantsEvidence, false)
    const release = events.wantEvidence()
    const other = events.wantEvidence()
    assert.equal(events.wantsEvidence, true)
    release()
    assert.equal(events.wantsEvidence, true)
    other()
    assert.equal(events.wantsEvidence, false)
  })
})

describe('event log lines', () => {
  it('writes the summary first in both formats, and switches format on reload', () => {
    const lines: string[] = []
    const log = createLogger('info', { destination: { write: (l: string) => void lines.push(l) } })
    const events = new RelayEvents(() => undefined)
    logEvents(events, log)
    events.emitTransaction(event())
    setLogFormat(log, 'text')
    events.emitTransaction(event())
    const json = JSON.parse(lines[0] ?? '') as Record<string, unknown>
    assert.deepEqual(Object.keys(json).slice(0, 4), ['level', 'time', 'msg', 'event'])
    assert.equal((json.tx as Record<string, unknown>).headers, undefined)
    assert.equal(
      lines[1],
      `2026-12-02T06:00:00.000Z info ${String(json.msg)}\n`,
    )
    assert.match(String(json.msg), /^outbound\/submission 238VW8PZDZ616Z: client=dsl-77\.pool\.isp\.example\[192\.0\.2\.77\]:51324, session=k3d9x0a1b2c3d4e5, /)
  })

  it('turns the relay\u2019s other JSON lines into text: where, session id, message, then fields', () => {
    const json = JSON.stringify({ level: 'warn', time: 'T', service: 'smarthost-guard', instance: 'outbound', listener: 'submission', sid: 'abc', msg: 'hello there', n: 2, why: 'two words', list: ['a'] })
    assert.equal(textLine(json), 'T warn outbound/submission abc: hello there n=2 why="two words" list=["a"]\n')
    assert.equal(textLine(JSON.stringify({ level: 'info', time: 'T', msg: 'ready' })), 'T info smarthost-guard: ready\n')
  })
})

describe('why a connection ended', () => {
  it('tells QUIT, a refusal at connect, an idle timeout, too many errors, a drain, another 421 or a protocol violation, and a client that went away', () => {
    assert.equal(disconnectReason(true, '550 5.7.1 no', false), 'quit')
    assert.equal(disconnectReason(false, '554 5.7.1 blocked', true), 'refused')
    assert.equal(disconnectReason(false, '421 4.4.2 Timeout - closing connection', false), 'timeout')
    assert.equal(disconnectReason(false, '421 4.7.0 Error: too many unrecognized commands', false), 'errors')
    assert.equal(disconnectReason(false, '421 4.3.2 Service shutting down; please try again later', false), 'drain')
    assert.equal(disconnectReason(false, '421 4.7.0 Commands sent before the greeting; wait for the 220 greeting', false), 'closed')
    assert.equal(disconnectReason(false, '554 5.5.0 SMTP protocol synchronization error: commands sent before the greeting; wait for the 220 greeting', false), 'closed')
    assert.equal(disconnectReason(false, '550 5.1.1 unknown user', false), 'lost')
    assert.equal(disconnectReason(false, undefined, false), 'lost')
  })
})
