import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'
import { duration } from '../../src/config/units.js'

// The systemd unit, checked by systemd itself (Debian package systemd): `systemd-analyze verify`
// reports unknown keys, bad values and missing commands. The unit runs the installed CLI at
// /usr/local/bin/smarthost-guard, which is not installed here: a stand-in executable takes its
// place in a copy of the unit, so that every other line is verified as written.

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const UNIT = join(ROOT, 'deploy', 'systemd', 'smarthost-guard@.service')
const BINARY = '/usr/local/bin/smarthost-guard'

describe('systemd unit', () => {
  it('passes systemd-analyze verify without a warning about the unit', () => {
    const dir = mkdtempSync(join(tmpdir(), 'smarthost-systemd-'))
    try {
      const stub = join(dir, 'smarthost-guard')
      writeFileSync(stub, '#!/bin/sh\nexit 0\n')
      chmodSync(stub, 0o755)
      const text = readFileSync(UNIT, 'utf8')
      assert.ok(text.includes(BINARY))
      const unit = join(dir, 'smarthost-guard@outbound.service')
      writeFileSync(unit, text.replaceAll(BINARY, stub))
      const run = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' })
      if (run.error) assert.fail(`systemd-analyze is not on PATH (Debian: apt-get install systemd): ${run.error.message}`)
      // Other units installed on the machine may warn too; only lines about this one count.
      const ours = `${run.stdout}${run.stderr}`.split('\n').filter((l) => l.includes('smarthost-guard'))
      assert.deepEqual(ours, [])
      assert.equal(run.status, 0)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('gives a stopping relay longer than the drain of production.yaml\u2019s instances', () => {
    const stop = /^TimeoutStopSec=(\S+)$/m.exec(readFileSync(UNIT, 'utf8'))?.[1]
    assert.ok(stop, 'TimeoutStopSec is set')
    const tree = parse(readFileSync(join(ROOT, 'policies', 'examples', 'production.yaml'), 'utf8')) as {
      instances: Record<string, { limits: { drain_timeout: string } }>
    }
    for (const [name, instance] of Object.entries(tree.instances)) {
      const drain = duration().parse(instance.limits.drain_timeout)
      assert.ok(duration().parse(stop) >= drain + 5000, `${name}: TimeoutStopSec ${stop} vs drain_timeout ${instance.limits.drain_timeout}`)
    }
  })
})
