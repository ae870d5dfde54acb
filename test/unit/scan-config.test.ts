import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { configIssues, parsePolicy } from '../../src/config/load.js'

// The rules folder is read and compiled when the policy loads: every problem names the
// policy key, then the rule file, line and column.

const policy = (scan: string) => `instances:
  outbound:
    listeners:
      - name: submission
        address: 127.0.0.1
        port: 2525
        tls: none
    next_hops: [127.0.0.1:2500]
    scan:
${scan}
    checks:
      - check: data.content_scan
`

describe('scan rules in the policy', () => {
  let dir: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shg-scan-config-'))
    await mkdir(join(dir, 'good'))
    await writeFile(join(dir, 'good', 'a.yar'), 'rule A { strings: $a = "aaa" condition: $a }\n')
    await mkdir(join(dir, 'bad'))
    await writeFile(join(dir, 'bad', 'a.yar'), 'rule A { strings: $a = "aaa" condition: $a }\n')
    await writeFile(join(dir, 'bad', 'b.yar'), '// second file\n\nrule B {\n  condition:\n    filesize > 10 and nosuch\n}\nrule A { condition: true }\n')
    await writeFile(join(dir, 'bad', 'notes.txt'), 'not a rule file')
    await mkdir(join(dir, 'empty'))
  })
  after(() => rm(dir, { recursive: true, force: true }))

  const issuesOf = async (scan: string) => {
    const file = join(dir, 'relay.yaml')
    try {
      await parsePolicy(file, policy(scan))
    } catch (err) {
      return (configIssues(err) ?? []).map((i) => i.replaceAll(dir, 'DIR'))
    }
    return []
  }

  it('loads the rule files of the folder, resolved next to the policy', async () => {
    const loaded = await parsePolicy(join(dir, 'relay.yaml'), policy('      rules: good'))
    assert.equal(loaded.policy.instances.outbound?.scan.rules, join(dir, 'good'))
    assert.equal(loaded.files.get(join(dir, 'good', 'a.yar'))?.startsWith('rule A'), true)
  })

  it('names the file, line and column of every compile error, duplicates across files included', async () => {
    for (const engine of ['native', 'wasm']) {
      const issues = await issuesOf(`      rules: bad\n      engine: ${engine}`)
      assert.ok(issues.length >= 1, engine)
      assert.match(issues[0]!, /^DIR\/relay\.yaml:10:14 instances\.outbound\.scan\.rules: DIR\/bad\/b\.yar:5:23: unknown identifier `nosuch`/, engine)
      if (engine === 'native') assert.match(issues[1] ?? '', /^DIR\/relay\.yaml:10:14 instances\.outbound\.scan\.rules: DIR\/bad\/b\.yar:7:6: duplicate rule `A`/)
    }
  })

  it('refuses a missing or empty rules folder', async () => {
    assert.deepEqual(await issuesOf('      rules: nowhere'), [
      'DIR/relay.yaml:10:14 instances.outbound.scan.rules: cannot read the rules folder DIR/nowhere: no such folder',
    ])
    assert.deepEqual(await issuesOf('      rules: empty'), ['DIR/relay.yaml:10:14 instances.outbound.scan.rules: no *.yar rule files in the folder'])
  })

  it('reads no rules for an instance that does not scan', async () => {
    const file = join(dir, 'relay.yaml')
    const loaded = await parsePolicy(file, policy('      rules: nowhere').replace('    checks:\n      - check: data.content_scan\n', ''))
    assert.equal([...loaded.files.keys()].some((k) => k.endsWith('.yar')), false)
  })
})
