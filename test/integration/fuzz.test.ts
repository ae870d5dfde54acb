import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { runFuzz } from '../helpers/fuzz-run.js'
import { relayWithSink, waitFor } from '../helpers/relay.js'
import { message, sendOne } from '../helpers/smtp-client.js'

// Seeded hostile SMTP sessions against the relay in this process: mutated and binary commands,
// long lines, pipelined garbage, DATA with bare CR/LF and NUL, STARTTLS then garbage, AUTH
// garbage, hang-ups, slow clients, non-TLS bytes on the TLS port. A customer's control message
// goes through between them all along. Scale with FUZZ_SESSIONS, replay with FUZZ_SEED.

const SESSIONS = Number(process.env.FUZZ_SESSIONS ?? 2500)
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31))
const CONCURRENCY = Number(process.env.FUZZ_CONCURRENCY ?? 96)

describe(`hostile sessions (FUZZ_SEED=${SEED} FUZZ_SESSIONS=${SESSIONS})`, () => {
  const env = relayWithSink()

  it('keeps serving: no crash, no unhandled error, no error-level log line, every control message relayed', async (t) => {
    const faults: string[] = []
    const onFault = (err: unknown) => void faults.push(err instanceof Error ? (err.stack ?? err.message) : String(err))
    process.on('uncaughtException', onFault)
    process.on('unhandledRejection', onFault)
    t.after(() => {
      process.off('uncaughtException', onFault)
      process.off('unhandledRejection', onFault)
    })
    const port = (name: string) => env.relay.port(name)
    const subjects: string[] = []
    const sendControl = async (n: number) => {
      const subject = `control ${SEED}-${n}`
      subjects.push(subject)
      const r = await sendOne(port('submission'), 'customer@customer.test', ['friend@remote.test'], message(subject), { localAddress: '127.0.0.1' })
      if (r.end?.code !== 250) throw new Error(`control message ${n}: ${r.end?.line ?? r.rcpt[0]?.line ?? r.mail.line}`)
    }
    const result = await runFuzz({
      target: { submission: port('submission'), submissions: port('submissions'), mx: port('mx') },
      seed: SEED,
      sessions: SESSIONS,
      concurrency: CONCURRENCY,
      sendControl,
      controlEvery: 100,
    })
    // And after the storm: the relay still relays.
    await sendControl(subjects.length)
    const arrived = () => new Set(env.sink.messages.map((m) => /^Subject: (control .*)$/m.exec(m.text)?.[1]).filter(Boolean))
    await waitFor(() => subjects.every((s) => arrived().has(s)), 10_000, 'every control message at the sink')
    t.diagnostic(`seed ${SEED}: ${result.sessions} sessions in ${result.ms} ms, ${result.controls} control messages; ${JSON.stringify(result.kinds)}`)

    const replay = `replay with FUZZ_SEED=${SEED} FUZZ_SESSIONS=${SESSIONS}`
    assert.deepEqual(faults, [], `uncaught errors; ${replay}`)
    assert.deepEqual(result.controlFailures, [], `control messages refused; ${replay}`)
    assert.deepEqual(result.stuck, [], `sessions the relay kept open; ${replay}`)
    const errors = env.relay.logs.lines.filter((l) => l.level === 'error' || l.level === 'fatal')
    assert.deepEqual(errors.slice(0, 5), [], `${errors.length} error-level log lines; ${replay}`)
    assert.ok(result.kinds.data > 0 && result.kinds.starttls_garbage > 0, 'the mix covered DATA and STARTTLS')
  })
})
