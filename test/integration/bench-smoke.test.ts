import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { describe, it } from 'node:test'

const RUN = fileURLToPath(new URL('../bench/run.ts', import.meta.url))
const SCAN = fileURLToPath(new URL('../bench/scan.ts', import.meta.url))

// The benchmark is measured by hand (npm run bench); this only proves that it still runs
// end to end: smtp-source, smtp-sink, the built relay and the latency client.
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

  // After the run above: it has just built dist/, so this one does not build again.
  it('runs a quick round of the scanning benchmark and prints its tables', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', SCAN, '--quick', '--no-build'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (err += d.toString()))
    const [code] = (await once(child, 'exit')) as [number | null]
    assert.equal(code, 0, err)
    assert.match(out, /\| 5 KB text, persistent sessions \| [\d,]+ \| [\d,]+ \|/)
    assert.match(out, /### Scan time through a scanner thread/)
    assert.match(out, /\| native \| [\d.]+ µs \|/)
  })
})
