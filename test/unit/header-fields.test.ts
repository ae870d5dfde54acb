import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { headerBlock, headerEnd, parseHeader } from '../../src/scan/header-fields.js'

const block = (text: string) => headerBlock(Buffer.from(text, 'latin1')).toString('latin1')

describe('header block', () => {
  it('ends before the first empty line, whatever the line endings', () => {
    assert.equal(block('Subject: a\r\nFrom: b\r\n\r\nbody\r\n\r\nmore'), 'Subject: a\r\nFrom: b')
    assert.equal(block('Subject: a\nFrom: b\n\nbody'), 'Subject: a\nFrom: b')
    assert.equal(block('Subject: a\r\n\nbody'), 'Subject: a')
    assert.equal(block('Subject: a\n\r\nbody'), 'Subject: a')
    assert.equal(block('Subject: a\r\nX: \r\r\n\r\nbody'), 'Subject: a\r\nX: \r')
  })

  it('takes the first empty line when a bare-LF one comes before a CRLF one', () => {
    assert.equal(block('Subject: a\n\nbody\r\n\r\nmore'), 'Subject: a')
    assert.equal(block('Subject: a\r\n\r\nbody\n\nmore'), 'Subject: a')
  })

  it('is empty for a message that starts with an empty line, and all of a message without one', () => {
    assert.equal(headerEnd(Buffer.from('\r\n\r\nbody')), 0)
    assert.equal(headerEnd(Buffer.from('\n\nbody')), 0)
    assert.equal(block('Subject: a\r\nFrom: b\r\n'), 'Subject: a\r\nFrom: b\r\n')
  })

  it('is not looked for past 256 KB', () => {
    const long = Buffer.from(`X-Long: ${'a'.repeat(300 * 1024)}\r\n\r\nbody`)
    assert.equal(headerEnd(long), 256 * 1024)
    assert.equal(headerBlock(long).buffer, long.buffer, 'a view, not a copy')
  })
})

describe('parsed header', () => {
  const raw = Buffer.from(
    'From: "Bob" <Bob@Customer.test>\r\nTo: a@x.test,\r\n b@y.test\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\n\r\nFrom: body@not.header\r\n',
  )

  it('unfolds values, decodes encoded-words and lists addresses in lower case', () => {
    const h = parseHeader(raw)
    assert.deepEqual(h.values('to'), ['a@x.test, b@y.test'])
    assert.equal(h.decoded('Subject'), 'café')
    assert.deepEqual(h.addresses('From'), ['bob@customer.test'])
    assert.equal(h.decoded('date'), null)
  })

  it('works a field out once per name, whatever its case', () => {
    const h = parseHeader(raw)
    assert.equal(h.addresses('from'), h.addresses('FROM'))
    assert.equal(h.values('to'), h.values('To'))
  })
})
