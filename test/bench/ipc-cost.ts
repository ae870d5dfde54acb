import cluster from 'node:cluster'
import { IpcBackend } from '../../src/cluster/ipc-backend.js'
import { PrimaryLink } from '../../src/cluster/primary-link.js'
import { StateServer } from '../../src/cluster/state-server.js'
import { isClusterMessage } from '../../src/cluster/messages.js'
import type { WorkerMessage } from '../../src/cluster/messages.js'
import { MemoryBackend } from '../../src/limits/backend.js'
import type { StateBackend } from '../../src/limits/backend.js'
import { Limit } from '../../src/limits/limit.js'
import { createLogger } from '../../src/log/logger.js'

// The cost of a limit check held in the primary of `serve --workers N`, against the same check
// on this process's memory: a worker consumes from a Limit on the IPC backend, one call at a
// time (a full round trip each) and 20 at once (one batch per turn, as concurrent sessions do).
// Run by test/bench/workers.ts; prints one JSON line on stdout.

const CALLS = Number(process.env.IPC_BENCH_CALLS ?? 20_000)
const spec = { points: 1e9, windowMs: 3_600_000 }

async function measure(backend: StateBackend): Promise<{ serialUs: number; batchedUs: number; cpuUs: number }> {
  const limit = new Limit(backend, { instance: 'outbound', check: 'mail.rate', dimension: 'address' }, spec)
  for (let i = 0; i < 2000; i++) await limit.consume(`192.0.2.${i % 250}`)
  const cpu0 = process.cpuUsage()
  let t = process.hrtime.bigint()
  for (let i = 0; i < CALLS; i++) await limit.consume(`192.0.2.${i % 250}`)
  const serialUs = Number(process.hrtime.bigint() - t) / 1e3 / CALLS
  t = process.hrtime.bigint()
  for (let i = 0; i < CALLS; i += 20) {
    await Promise.all(Array.from({ length: 20 }, (_, k) => limit.consume(`198.51.100.${(i + k) % 250}`)))
  }
  const batchedUs = Number(process.hrtime.bigint() - t) / 1e3 / CALLS
  const cpu = process.cpuUsage(cpu0)
  return { serialUs, batchedUs, cpuUs: (cpu.user + cpu.system) / (2 * CALLS) }
}

if (cluster.isPrimary) {
  const memory = new MemoryBackend(100_000)
  const local = await measure(memory)
  const server = new StateServer({ backend: () => memory, stats: () => undefined, note: () => undefined }, createLogger('silent'))
  const worker = cluster.fork()
  const cpu0 = process.cpuUsage()
  let calls = 0
  let messages = 0
  type Result = { serialUs: number; batchedUs: number; cpuUs: number }
  const ipc = await new Promise<Result>((resolve) => {
    worker.on('message', (m: unknown) => {
      if (!isClusterMessage<WorkerMessage | ({ t: 'result' } & Result)>(m)) return
      if (m.t === 'result') return resolve(m)
      if (m.t !== 'calls') return
      messages++
      calls += m.calls.length
      void server.run(worker.id, m.calls).then((answers) => worker.send({ t: 'answers', answers }))
    })
  })
  const primary = process.cpuUsage(cpu0)
  worker.kill()
  process.stdout.write(`${JSON.stringify({ local, ipc, primaryUsPerCall: (primary.user + primary.system) / calls, callsPerMessage: calls / messages })}\n`)
} else {
  const link = PrimaryLink.ofProcess(() => undefined)
  const result = await measure(new IpcBackend(link))
  process.send?.({ t: 'result', ...result })
}
