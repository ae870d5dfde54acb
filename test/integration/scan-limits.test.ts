import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { describe, it } from 'node:test'
import { scansInProgress } from '../../src/metrics/scan-metrics.js'
import { relayWithSink } from '../helpers/relay.js'
import * as samples from '../helpers/samples.js'
import { scanning } from '../helpers/scan.js'
import { SmtpDialog, sendOne } from '../helpers/smtp-client.js'
import type { Reply } from '../helpers/smtp-client.js'

// Hostile input is scanned within the limits, off the SMTP thread: the relay keeps serving.

const FROM = 'alice@customer.test'
const TO = ['bob@remote.test']
const MiB = 2 ** 20

/** Polls an asynchronous condition (the metric is read through prom-client's async API). */
async function until(test: () => Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

async function inProgress(): Promise<number> {
  const metric = await scansInProgress.get()
  return metric.values.find((v) => v.labels.relay_instance === 'outbound')?.value ?? 0
}

/** A session that has sent DATA and got its 354, so that the message can be sent at a chosen moment. */
async function atData(port: number): Promise<SmtpDialog> {
  const c = await SmtpDialog.open({ port })
  await c.greeting
  await c.cmd('EHLO pc.test')
  await c.cmd(`MAIL FROM:<${FROM}>`)
  for (const r of TO) await c.cmd(`RCPT TO:<${r}>`)
  const data = await c.cmd('DATA')
  assert.equal(data.code, 354, data.line)
  return c
}

/** Sends the message and the final dot; resolves with the reply and when it came. */
async function finish(c: SmtpDialog, message: string): Promise<{ end: Reply; at: number }> {
  c.write(`${message.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..')}\r\n.\r\n`)
  const end = await c.read()
  const at = performance.now()
  await c.quit()
  return { end, at }
}

describe('scan limits', () => {
  // A thread for each hostile message and one more, so the ordinary message has one to go to.
  const env = relayWithSink({}, scanning({ workers: 4, limits: { depth: 20, total_bytes: '64MiB', expansion_ratio: 100, time: '10s' } }))

  it('flags a zip bomb, a gzip bomb and a 100-level nested message within the limits while another session is delivered, without stalling the SMTP thread', async () => {
    const zipBomb = await samples.mimeMessage({ subject: 'zip bomb', attachments: [{ filename: 'holiday.zip', content: await samples.zipBomb(100) }] })
    // Three of them, each inflated up to its cap: the scan that lasts while the ordinary message goes through.
    const logs = await samples.gzipBomb(150)
    const gzBomb = await samples.mimeMessage({ subject: 'gzip bomb', attachments: [1, 2, 3].map((n) => ({ filename: `logs-${n}.gz`, content: logs })) })
    const nested = await samples.nestedMessage(100, await samples.mimeMessage({ subject: 'the bottom', text: samples.advanceFeeText() }))
    const normal = await samples.mimeMessage({ subject: 'an ordinary message', text: 'See you tomorrow.\r\n' })
    const port = env.relay.port('submission')
    await until(async () => (await inProgress()) === 0, 'the warm-up scans')
    const [zipSession, gzSession, deepSession, okSession] = await Promise.all([atData(port), atData(port), atData(port), atData(port)])
    const delay = monitorEventLoopDelay({ resolution: 10 })
    const rssBefore = process.memoryUsage().rss
    let rssMax = rssBefore
    const sampler = setInterval(() => (rssMax = Math.max(rssMax, process.memoryUsage().rss)), 10)
    delay.enable()
    const started = Date.now()
    const hostile = [finish(zipSession, zipBomb), finish(gzSession, gzBomb), finish(deepSession, nested)] as const
    // The ordinary message is sent once the three are being scanned.
    await until(async () => (await inProgress()) === 3, 'the three hostile messages being scanned')
    const normalDone = finish(okSession, normal)
    const [zip, gz, deep] = await Promise.all(hostile)
    const ok = await normalDone
    const elapsed = Date.now() - started
    delay.disable()
    clearInterval(sampler)

    assert.equal(ok.end?.code, 250, ok.end?.line)
    // Relayed while the gzip bombs were still being inflated (up to their caps) in another thread.
    assert.ok(ok.at < gz.at, `the ordinary message was relayed ${Math.round(ok.at - gz.at)} ms after the gzip bombs were refused`)
    assert.ok(env.sink.messages.some((m) => m.text.includes('Subject: an ordinary message')))
    const bomb = '554 5.7.1 Message refused: an attached archive expands far beyond its own size (archive bomb); see https://postmaster.example.net/why/archive-bomb'
    assert.equal(zip.end?.line, bomb)
    assert.equal(gz.end?.line, bomb)
    assert.equal(
      deep.end?.line,
      '554 5.7.1 Message held for review by the postmaster, not delivered: it is too large or too deeply nested to be checked (nesting, parts or size beyond the limits); see https://postmaster.example.net/why/scan-limit',
    )
    assert.ok(!env.sink.messages.some((m) => /Subject: (zip bomb|gzip bomb|Fwd: level)/.test(m.text)))

    // Bounded: each scan stopped at its limit, and far from the 10 s time limit.
    const scans = env.relay.logs.transactions().map((t) => t.tx.scan as { flags: string[]; bytes: number; ms: number; objects: number; complete: boolean } | undefined)
    const flagged = scans.filter((s) => s && (s.flags.includes('archive_bomb') || s.flags.includes('scan_limit')))
    assert.equal(flagged.length, 3)
    for (const s of flagged) {
      assert.ok(s!.bytes <= 64 * MiB, `decoded ${s!.bytes} bytes`)
      assert.ok(s!.ms < 10_000, `scanned for ${s!.ms} ms`)
    }
    const gzScan = flagged.find((s) => s!.flags.includes('archive_bomb') && s!.bytes > 0)
    assert.ok(gzScan && gzScan.bytes <= 100 * (gzBomb.length + MiB), 'the gzip bomb was inflated only up to its expansion cap')
    const deepScan = flagged.find((s) => s!.flags.includes('scan_limit'))!
    assert.ok(deepScan.objects < 60, `${deepScan.objects} objects for 100 levels`)
    assert.ok(elapsed < 20_000, `all four took ${elapsed} ms`)
    assert.ok(rssMax - rssBefore < 400 * MiB, `memory grew by ${Math.round((rssMax - rssBefore) / MiB)} MiB`)
    // The SMTP thread never waited for a scan: its event loop was never blocked for long.
    assert.ok(delay.max / 1e6 < 250, `event loop blocked for up to ${Math.round(delay.max / 1e6)} ms`)
  })
})

describe('scanner overload', () => {
  // One scanner thread and no queue: a second message while the first is scanned cannot wait.
  const env = relayWithSink({}, scanning({ workers: 1, queue: 0 }))

  it('defers a message with 451 4.3.0 when every scanner thread is busy, never 5xx, and relays the one being scanned', async () => {
    // The warm-up scan that compiles the rules has finished.
    await until(async () => (await inProgress()) === 0, 'the warm-up scan')
    const big = await samples.mimeMessage({ subject: 'big', attachments: [{ filename: 'photos.bin', content: randomBytes(15 * MiB) }] })
    const port = env.relay.port('submission')
    const a = await SmtpDialog.open({ port })
    await a.greeting
    await a.cmd('EHLO pc.test')
    const first = a.send(FROM, TO, big)
    await until(async () => (await inProgress()) === 1, 'the big message being scanned')
    const second = await sendOne(port, FROM, TO, await samples.mimeMessage({ subject: 'small' }))
    assert.equal(
      second.end?.line,
      '451 4.3.0 Temporary local problem; please try again later; see https://postmaster.example.net/why/local-error',
    )
    const done = await first
    await a.quit()
    assert.equal(done.end?.code, 250, done.end?.line)
    const logged = env.relay.logs.lines.find((l) => String(l.msg).includes('every scanner thread is busy'))
    assert.ok(logged, 'the fault is logged with RELAY_ERR_SCAN_BUSY')
  })
})
