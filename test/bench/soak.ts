// Soak: rounds of seeded hostile SMTP sessions (test/helpers/hostile-sessions.ts) against a
// relay in its own process, a customer's control message between them, and the relay's RSS
// after each round. Memory under hostile load must level off: the RSS after the last round
// may exceed the RSS after the middle round by at most SOAK_BOUND (default 10 %).
//
//   npm run soak                                      # 10 rounds of 5,000 sessions
//   SOAK_ROUNDS=20 SOAK_SESSIONS=3000 SOAK_SEED=7 npm run soak
//
// Exit status 1 if the bound is exceeded, a control message was not relayed, a session was
// left hanging, or the relay logged an error-level line.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { hashPassword } from '../../src/auth/password.js'
import { runFuzz } from '../helpers/fuzz-run.js'
import { spawnRelay } from '../helpers/process.js'
import { testPolicy, USER, waitFor } from '../helpers/relay.js'
import { startSink } from '../helpers/sink.js'
import { message, sendOne } from '../helpers/smtp-client.js'
import { testCertificate } from '../helpers/tls.js'

const ROUNDS = Number(process.env.SOAK_ROUNDS ?? 10)
const SESSIONS = Number(process.env.SOAK_SESSIONS ?? 5000)
const SEED = Number(process.env.SOAK_SEED ?? Math.floor(Math.random() * 2 ** 31))
const CONCURRENCY = Number(process.env.SOAK_CONCURRENCY ?? 96)
const BOUND = Number(process.env.SOAK_BOUND ?? 0.1)

/** The relay's V8 heap in use (prom-client's default metric), in MB: RSS also holds what V8 has not returned yet. */
async function heapMb(port: number | undefined): Promise<number> {
  if (!port) return NaN
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
  const bytes = Number(/^smarthost_process_nodejs_heap_size_used_bytes (\S+)$/m.exec(text)?.[1] ?? NaN)
  return Math.round((bytes / 2 ** 20) * 10) / 10
}

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kb = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1] ?? NaN)
  return Math.round((kb / 1024) * 10) / 10
}

const dir = await mkdtemp(join(tmpdir(), 'shg-soak-'))
const sink = await startSink()
const cert = await testCertificate('relay.test')
await writeFile(join(dir, 'cert.pem'), cert.cert)
await writeFile(join(dir, 'key.pem'), cert.key)
await writeFile(join(dir, 'users.passwd'), `${USER.name}:${await hashPassword(USER.password)}\n`)
const policy = testPolicy([sink.port], (p) => {
  p.log = { level: 'info' }
})
await writeFile(join(dir, 'relay.yaml'), stringify(policy))
const relay = await spawnRelay(['--config', join(dir, 'relay.yaml')], 120_000)
const pid = relay.child.pid ?? 0
const admin = (relay.lines.find((l) => l.msg === 'smarthost-guard ready')?.admin as { port: number } | undefined)?.port
const target = { submission: relay.port('submission'), submissions: relay.port('submissions'), mx: relay.port('mx') }

console.log(`soak: seed ${SEED}, ${ROUNDS} rounds of ${SESSIONS} sessions, ${CONCURRENCY} at a time; relay pid ${pid}`)
console.log(`round  sessions  seconds  controls  error-lines  rss-MB  heap-MB`)
console.log(`    0         0        0         0            0  ${await rssMb(pid)}  ${await heapMb(admin)}`)
const rss: number[] = []
let failures = 0
let errorLines = 0
for (let round = 1; round <= ROUNDS; round++) {
  const subjects: string[] = []
  const sendControl = async (n: number) => {
    const subject = `control ${SEED}-${round}-${n}`
    subjects.push(subject)
    const r = await sendOne(target.submission, 'customer@customer.test', ['friend@remote.test'], message(subject), { localAddress: '127.0.0.1' })
    if (r.end?.code !== 250) throw new Error(`control message ${subject}: ${r.end?.line ?? r.rcpt[0]?.line ?? r.mail.line}`)
  }
  const result = await runFuzz({ target, seed: SEED, first: (round - 1) * SESSIONS, sessions: SESSIONS, concurrency: CONCURRENCY, sendControl, controlEvery: 100 })
  const arrived = () => new Set(sink.messages.map((m) => /^Subject: (control .*)$/m.exec(m.text)?.[1]))
  await waitFor(() => subjects.every((s) => arrived().has(s)), 10_000, `round ${round}'s control messages at the sink`).catch(() => failures++)
  sink.messages.length = 0
  const errors = relay.lines.filter((l) => l.level === 'error' || l.level === 'fatal')
  errorLines += errors.length
  for (const e of errors.slice(0, 3)) console.log(`  error line: ${JSON.stringify(e).slice(0, 300)}`)
  relay.lines.length = 0
  failures += result.controlFailures.length + result.stuck.length
  rss.push(await rssMb(pid))
  console.log(
    `${String(round).padStart(5)}  ${String(result.sessions).padStart(8)}  ${(result.ms / 1000).toFixed(0).padStart(7)}  ${String(result.controls - result.controlFailures.length).padStart(4)}/${String(result.controls).padEnd(4)}  ${String(errors.length).padStart(11)}  ${rss.at(-1)}  ${await heapMb(admin)}`,
  )
}
await relay.stop()
await sink.close()
await rm(dir, { recursive: true, force: true })

const middle = rss[Math.floor((rss.length - 1) / 2)] ?? NaN
const end = rss.at(-1) ?? NaN
const growth = end / middle - 1
const ok = growth <= BOUND && failures === 0 && errorLines === 0
console.log(
  `RSS middle (round ${Math.floor((rss.length - 1) / 2) + 1}) ${middle} MB, end ${end} MB: ${(growth * 100).toFixed(1)} % (bound +${BOUND * 100} %); ` +
    `${failures} failed controls or stuck sessions, ${errorLines} error-level lines: ${ok ? 'PASS' : 'FAIL'}`,
)
process.exitCode = ok ? 0 : 1
