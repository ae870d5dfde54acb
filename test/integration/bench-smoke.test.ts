import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { describe, it } from 'node:test'

const RUN = fileURLToPath(new URL('../bench/run.ts', import.meta.url))
const RUN_DNS = fileURLToPath(new URL('../bench/dns-run.ts', import.meta.url))

// The benchmarks are measured by hand (npm run bench, npm run bench:dns); these only prove that they still run
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

  // After the run above, which built dist/: two builds at once could read each other's half-written files.
  it('runs a quick round of the DNS benchmark and prints its three tables', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', RUN_DNS, '--quick', '--no-build', '--zones', '1,2'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (err += d.toString()))
    const [code] = (await once(child, 'exit')) as [number | null]
    assert.equal(code, 0, err)
    assert.match(out, /\| relay resolver, cache off \(dns-packet, own sockets\) \| [\d,]+ \|/)
    assert.match(out, /\| 2 \| [\d.]+ \| -?[\d.]+ \|/)
    assert.match(out, /\| [\d,]+ \| [\d,]+ \| [\d,]+ \| [\d.]+ % \|/)
  })
})
