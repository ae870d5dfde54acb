import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { README } from '../helpers/update-docs.js'

describe('README', () => {
  it('states the two set-up commands and a test summary in the N passed, N failed form', () => {
    const readme = readFileSync(README, 'utf8')
    assert.match(readme, /^npm ci && npm start /m)
    assert.match(readme, /^npm ci && npm test /m)
    assert.match(readme, /N passed, N failed/)
  })
})
