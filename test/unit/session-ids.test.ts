import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { newSessionId } from '../../src/smtp/ids.js'

describe('session ids', () => {
  it('are 16 base-32 digits, as smtp-server writes them, and do not repeat', () => {
    const ids = new Set<string>()
    for (let i = 0; i < 20_000; i++) {
      const id = newSessionId()
      assert.match(id, /^[0-9a-v]{16}$/)
      ids.add(id)
    }
    assert.equal(ids.size, 20_000)
  })

  it('use every digit', () => {
    const seen = new Set<string>()
    for (let i = 0; i < 200; i++) for (const c of newSessionId()) seen.add(c)
    assert.equal(seen.size, 32)
  })
})
