// A scanner thread: compiles rule sets it is sent (keeping the last few), explodes and scans
// one message at a time, and answers with the report. Runs off the SMTP thread, so a slow or
// hostile message costs this thread only; the pool replaces it if it overstays its limit.
import { parentPort } from 'node:worker_threads'
import type { CompiledRules } from './engine.js'
import { loadEngine } from './engine.js'
import { explode } from './explode.js'
import type { ScanRequest, ScanResponse } from './protocol.js'

const KEEP_RULE_SETS = 3
const compiled = new Map<string, { rules: CompiledRules; engine: string }>()

async function rulesFor(req: ScanRequest): Promise<{ rules: CompiledRules; engine: string }> {
  const known = compiled.get(req.rules.id)
  if (known) {
    // Most recently used last, so the oldest is dropped first.
    compiled.delete(req.rules.id)
    compiled.set(req.rules.id, known)
    return known
  }
  if (req.rules.source === undefined) throw new Error(`rule set ${req.rules.id} was not sent to this thread`)
  const engine = await loadEngine(req.rules.engine)
  const entry = { rules: engine.compile(req.rules.source, req.limits.timeMs), engine: engine.kind }
  compiled.set(req.rules.id, entry)
  for (const [id, old] of compiled) {
    if (compiled.size <= KEEP_RULE_SETS) break
    old.rules.dispose()
    compiled.delete(id)
  }
  return entry
}

async function handle(req: ScanRequest): Promise<ScanResponse> {
  try {
    const { rules, engine } = await rulesFor(req)
    const raw = Buffer.from(req.raw.buffer, req.raw.byteOffset, req.raw.byteLength)
    // The time limit counts from here: waiting for a thread is bounded by the check's timeout.
    const report = await explode(raw, { rules, engine, rulesId: req.rules.id, externals: req.externals, limits: req.limits }, Date.now())
    return { id: req.id, report }
  } catch (err) {
    return { id: req.id, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }
  }
}

const port = parentPort
if (!port) throw new Error('the scanner runs as a worker thread')
// One message at a time, in the order given; the pool hands over several at once under load,
// and each report goes back as soon as it is ready (the pool's time limit counts per message).
let line: Promise<void> = Promise.resolve()
port.on('message', (reqs: ScanRequest[]) => {
  for (const req of reqs) {
    line = line
      .then(() => handle(req))
      .then((res) => port.postMessage(res))
      .catch((err: unknown) => port.postMessage({ id: req.id, error: `the report could not be sent: ${String(err)}` }))
  }
})
