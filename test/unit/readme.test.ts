import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { explainPolicy } from '../../src/cli/explain-config.js'
import { README, withReference } from '../helpers/update-readme.js'

describe('README', () => {
  it('holds the configuration reference exactly as explain-config prints it (npm run docs updates it)', () => {
    const readme = readFileSync(README, 'utf8')
    assert.equal(readme, withReference(readme, explainPolicy()))
  })

  it('states the two set-up commands and a test summary in the N passed, N failed form', () => {
    const readme = readFileSync(README, 'utf8')
    assert.match(readme, /^npm ci && npm start /m)
    assert.match(readme, /^npm ci && npm test /m)
    assert.match(readme, /N passed, N failed/)
  })
})
