import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { describe, it } from 'node:test'

const RUN = fileURLToPath(new URL('../bench/run.ts', import.meta.url))

// The benchmarks are measured by hand (npm run bench, npm run bench:limits); these only prove
// that they still run end to end: smtp-source, smtp-sink, the built relay, the latency client,
// redis-server.
describe('benchmark', () => {
  it('runs a quick round and prints both tables', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', RUN, '--quick'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (err += d.toString()))
    const [code] = (await once(child, 'exit')) as [number | null]
    assert.equal(code, 0, err)
    assert.match(out, /### Throughput/)
    assert.match(out, /\| new connection per message, 1 rcpt \| [\d,]+ \| [\d,]+ \|/)
    assert.match(out, /### Added latency/)
  })

  // After the run above has compiled dist/ (two compilations at once could meet in dist/).
  it('runs the limit checks benchmark quickly: memory and Redis against no limits, and the memory figure', async () => {
    const limits = fileURLToPath(new URL('../bench/limits.ts', import.meta.url))
    const child = spawn(process.execPath, ['--import', 'tsx', limits, '--quick', '--no-build'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (err += d.toString()))
    const [code] = (await once(child, 'exit')) as [number | null]
    assert.equal(code, 0, err)
    assert.match(out, /\| persistent sessions, 1 rcpt \| redis \| [\d,]+ \| \d+ % \|/)
    assert.match(out, /\| memory backend \(max_entries 200,000\) \| 100,000 \| 100,000 \|/)
  })
})
