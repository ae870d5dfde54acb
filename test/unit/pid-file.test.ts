import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { pidFileFor } from '../../src/cli/pid-file.js'
import { isoTime } from '../../src/cli/iso-time.js'

describe('pid file names', () => {
  it('uses pid_file as it is for serve, and adds -NAME before .pid for serve --instance NAME', () => {
    assert.equal(pidFileFor('/srv/var/smarthost-guard.pid'), '/srv/var/smarthost-guard.pid')
    assert.equal(pidFileFor('/srv/var/smarthost-guard.pid', 'outbound'), '/srv/var/smarthost-guard-outbound.pid')
    assert.equal(pidFileFor('/run/relay', 'inbound'), '/run/relay-inbound')
    assert.equal(pidFileFor('/run/v1.2/relay', 'inbound'), '/run/v1.2/relay-inbound')
  })
})

describe('CLI times', () => {
  it('prints epoch milliseconds and ISO strings alike as ISO 8601 UTC to the second', () => {
    assert.equal(isoTime(0), '1970-01-01T00:00:00Z')
    assert.equal(isoTime('2026-12-02T05:40:00.123Z'), '2026-12-02T05:40:00Z')
  })
})
