import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { wireBody } from '../../src/relay/hop-connection.js'

const wire = (text: string) => wireBody(Buffer.from(text, 'latin1')).toString('latin1')

describe('the message as sent after 354', () => {
  it('doubles a dot at the start of every line, the first included, and ends with CRLF.CRLF', () => {
    assert.equal(wire('.a\r\nb\r\n.\r\n..c\r\n'), '..a\r\nb\r\n..\r\n...c\r\n.\r\n')
  })

  it('adds the CRLF a message lacks before the final dot', () => {
    assert.equal(wire('Subject: x\r\n\r\nno newline'), 'Subject: x\r\n\r\nno newline\r\n.\r\n')
  })

  it('turns bare LF and bare CR into CRLF, so no lenient hop sees an end of data inside the message', () => {
    assert.equal(wire('a\n.\nb\r.\rc\r\n'), 'a\r\n..\r\nb\r\n..\r\nc\r\n.\r\n')
  })
})
