import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseSenderPattern, senderMatches } from '../../src/auth/sender-patterns.js'
import type { SenderPattern } from '../../src/auth/sender-patterns.js'

const pattern = (text: string): SenderPattern => {
  const p = parseSenderPattern(text)
  assert.ok(p, text)
  return p
}

describe('sender patterns of a login', () => {
  it('reads an address, @domain and .domain, and nothing else', () => {
    assert.deepEqual(parseSenderPattern('Alice@Example.NET'), { kind: 'address', address: 'alice@example.net' })
    assert.deepEqual(parseSenderPattern('@example.net'), { kind: 'domain', domain: 'example.net' })
    assert.deepEqual(parseSenderPattern('.example.net'), { kind: 'subdomains', suffix: '.example.net' })
    for (const bad of ['example.net', 'alice@', '@', '.', 'a b@example.net', '<alice@example.net>', 'a,b@example.net', '@exa mple.net', '']) {
      assert.equal(parseSenderPattern(bad), null, bad)
    }
  })

  it('matches without regard to case, a domain only itself and .domain only its subdomains', () => {
    assert.ok(senderMatches(pattern('alice@example.net'), 'ALICE@example.NET'))
    assert.ok(!senderMatches(pattern('alice@example.net'), 'alice+news@example.net'))
    assert.ok(senderMatches(pattern('@example.net'), 'anyone@Example.net'))
    assert.ok(!senderMatches(pattern('@example.net'), 'anyone@mail.example.net'))
    assert.ok(senderMatches(pattern('.example.net'), 'anyone@mail.example.net'))
    assert.ok(!senderMatches(pattern('.example.net'), 'anyone@example.net'))
    assert.ok(!senderMatches(pattern('.example.net'), 'anyone@badexample.net'))
  })

  it('compares a punycode pattern with the Unicode form of the sender domain', () => {
    assert.ok(senderMatches(pattern('@xn--mller-kva.example'), 'info@müller.example'))
  })
})
