import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { SessionRecord, TransactionRecord } from '../../src/pipeline/record.js'
import { formatHeaders, receivedHeader, rfc5322Date } from '../../src/relay/received.js'

const session = (over: Partial<SessionRecord> = {}) =>
  ({ client: { address: '192.0.2.7', port: 5000, ptr: 'pc7.dyn.isp.test' }, helo: 'pc7', tls: null, user: null, ...over }) as SessionRecord
const tx = { id: 'ABCDEFGHJKLMNP' } as TransactionRecord
const date = new Date(Date.UTC(2026, 10, 22, 23, 52, 7))

describe('Received header', () => {
  it('formats RFC 5322 dates in UTC', () => {
    assert.equal(rfc5322Date(date), 'Sun, 22 Nov 2026 23:52:07 +0000')
  })

  it('has the RFC 5321 trace form with the RFC 3848 protocol keyword', () => {
    assert.equal(
      receivedHeader(session(), tx, { hostname: 'relay.test', esmtp: true, recipients: ['b@ext.test'], date }),
      'Received: from pc7 (pc7.dyn.isp.test [192.0.2.7])\r\n\tby relay.test (smarthost-guard) with ESMTP id ABCDEFGHJKLMNP\r\n\tfor <b@ext.test>; Sun, 22 Nov 2026 23:52:07 +0000\r\n',
    )
    const secure = receivedHeader(
      session({ tls: { protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' }, user: 'alice', client: { address: '2001:db8::7', port: 1, ptr: null } }),
      tx,
      { hostname: 'relay.test', esmtp: true, recipients: ['a@x.test', 'b@y.test'], date },
    )
    assert.equal(
      secure,
      'Received: from pc7 (unknown [IPv6:2001:db8::7])\r\n\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384)\r\n\t(authenticated sender: alice)\r\n\tby relay.test (smarthost-guard) with ESMTPSA id ABCDEFGHJKLMNP\r\n\tSun, 22 Nov 2026 23:52:07 +0000\r\n',
    )
  })

  it('cannot be broken by a hostile HELO name', () => {
    const h = receivedHeader(session({ helo: 'evil\r\nBcc: x@y (' }), tx, { hostname: 'r.test', esmtp: false, recipients: [], date })
    assert.match(h, /^Received: from evilBcc:x@y\( /)
    assert.equal(h.split('\r\n').length, 4)
    assert.match(h, /with SMTP id/)
  })
})

describe('added header fields', () => {
  it('cleans line breaks out of values and folds long ones at whitespace', () => {
    assert.equal(formatHeaders([{ name: 'X-Test', value: 'a\r\nBcc: x@y' }]), 'X-Test: a Bcc: x@y\r\n')
    const long = formatHeaders([{ name: 'Authentication-Results', value: `relay.test; ${'spf=pass smtp.mailfrom=a@b.test '.repeat(4).trim()}` }])
    const lines = long.split('\r\n').filter(Boolean)
    assert.ok(lines.length > 1)
    assert.ok(lines.every((l) => l.length <= 78))
    assert.ok(lines.slice(1).every((l) => l.startsWith('\t')))
  })
})
