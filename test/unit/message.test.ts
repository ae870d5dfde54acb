import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { describe, it } from 'node:test'
import { countBareLineEndings, normalizeLineEndings, readMessage } from '../../src/relay/message.js'

const b = (s: string) => Buffer.from(s, 'latin1')
/** A received message as readMessage gives it, with its line endings counted. */
const received = (raw: Buffer) => ({ raw, size: raw.length, overLimit: false, ...countBareLineEndings(raw) })

describe('line endings', () => {
  it('counts bare CR and bare LF, not CRLF', () => {
    assert.deepEqual(countBareLineEndings(b('a\r\nb\r\n')), { bareCr: 0, bareLf: 0 })
    assert.deepEqual(countBareLineEndings(b('a\nb\rc\r\n\n.\n')), { bareCr: 1, bareLf: 3 })
    assert.deepEqual(countBareLineEndings(b('\n')), { bareCr: 0, bareLf: 1 })
    assert.deepEqual(countBareLineEndings(b('x\r')), { bareCr: 1, bareLf: 0 })
  })

  it('rewrites every bare CR and LF as CRLF and leaves CRLF alone', () => {
    assert.equal(normalizeLineEndings(received(b('a\n.\nb\r.\rc\r\n.\r'))).toString('latin1'), 'a\r\n.\r\nb\r\n.\r\nc\r\n.\r\n')
    const clean = b('a\r\nb\r\n')
    assert.equal(normalizeLineEndings(received(clean)), clean)
  })
})

describe('readMessage', () => {
  it('keeps a message under the limit and counts its bytes across chunks', async () => {
    const m = await readMessage(Readable.from([b('Subject: x\r'), b('\n\r\nbody\n')]), 100)
    assert.equal(m.raw.toString('latin1'), 'Subject: x\r\n\r\nbody\n')
    assert.equal(m.size, 19)
    assert.equal(m.overLimit, false)
    assert.equal(m.bareLf, 1)
    assert.equal(m.bareCr, 0)
  })

  it('drains a message over the limit and keeps none of it', async () => {
    const m = await readMessage(Readable.from([b('x'.repeat(60)), b('y'.repeat(60))]), 100)
    assert.equal(m.overLimit, true)
    assert.equal(m.size, 120)
    assert.equal(m.raw.length, 0)
  })
})
