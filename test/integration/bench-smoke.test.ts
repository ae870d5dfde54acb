import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { describe, it } from 'node:test'

/** Runs a benchmark script to its end; returns its Markdown output, failing on a non-zero exit. */
async function runBench(script: string, args: string[]): Promise<string> {
  const file = fileURLToPath(new URL(`../bench/${script}`, import.meta.url))
  const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr.on('data', (d: Buffer) => (err += d.toString()))
  const [code] = (await once(child, 'exit')) as [number | null]
  assert.equal(code, 0, err)
  return out
}

// The benchmarks are measured by hand (npm run bench, bench:limits, bench:stats, bench:dns, bench:scan); these only prove
// that they still run end to end: smtp-source, smtp-sink, the built relay, the latency client,
// redis-server and the test DNS server. The first one builds dist/; the others reuse it, since
// two builds at once could read each other's half-written files.
describe('benchmarks', () => {
  it('runs a quick round of the relay benchmark and prints its tables', async () => {
    const out = await runBench('run.ts', ['--quick'])
    assert.match(out, /### Throughput/)
    for (const target of ['direct \\(client → sink\\)', 'minimal smtp-server \\+ nodemailer relay', 'relay, no checks', 'relay, every check', 'relay, every check, Redis backend']) {
      assert.match(out, new RegExp(`\\| new connection per message, 1 rcpt \\| ${target} \\| [\\d,]+ \\|`))
    }
    assert.match(out, /### Added latency/)
    assert.match(out, /### Targets/)
  })

  it('runs the limit checks benchmark quickly: memory and Redis against no limits, and the memory figure', async () => {
    const out = await runBench('limits.ts', ['--quick', '--no-build'])
    assert.match(out, /\| persistent sessions, 1 rcpt \| redis \| [\d,]+ \| \d+ % \|/)
    assert.match(out, /\| memory backend \(max_entries 200,000\) \| 100,000 \| 100,000 \|/)
  })

  it('runs the statistics benchmark quickly: memory and Redis against statistics off, their own CPU and the memory figure', async () => {
    const out = await runBench('stats-run.ts', ['--quick', '--no-build'])
    assert.match(out, /\| persistent sessions, 1 rcpt \| redis \| [\d,]+ \| \d+ % \|/)
    assert.match(out, /\| new connection per message \| redis \| [\d.]+ \| [\d.]+ % \|/)
    assert.match(out, /\| memory \(max_clients 100,000, max_baselines 200,000\) \| 100,000 \| [\d,]+ \| [\d.]+ MB \|/)
  })

  it('runs a quick round of the DNS benchmark and prints its three tables', async () => {
    const out = await runBench('dns-run.ts', ['--quick', '--no-build', '--zones', '1,2'])
    assert.match(out, /\| relay resolver, cache off \(dns-packet, own sockets\) \| [\d,]+ \|/)
    assert.match(out, /\| 2 \| [\d.]+ \| -?[\d.]+ \|/)
    assert.match(out, /\| [\d,]+ \| [\d,]+ \| [\d,]+ \| [\d.]+ % \|/)
  })

  it('runs a quick round of the scanning benchmark and prints its tables', async () => {
    const out = await runBench('scan.ts', ['--quick', '--no-build'])
    assert.match(out, /\| 5 KB text, persistent sessions \| [\d,]+ \| [\d,]+ \|/)
    assert.match(out, /### Scan time through a scanner thread/)
    assert.match(out, /\| native \| [\d.]+ µs \|/)
  })
})
