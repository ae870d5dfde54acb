import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { after, describe, it } from 'node:test'
import Ajv from 'ajv'
import { pino } from 'pino'
import { startAlerting } from '../../src/alerts/start.js'
import { MemoryBackend } from '../../src/limits/backend.js'
import { PenaltyBox } from '../../src/limits/penalty-box.js'
import type { RunningAlerting } from '../../src/alerts/start.js'
import { MemoryStatsStore } from '../../src/stats/memory-store.js'
import { alertsPolicy, observeSpam } from '../helpers/alerts.js'
import { eventually } from '../helpers/eventually.js'
import { startSink } from '../helpers/sink.js'
import type { Sink, SunkMessage } from '../helpers/sink.js'

const log = pino({ level: 'silent' })
const MINUTE = 60_000

/** A header's value from a sunk message (unfolded), or undefined. */
const header = (m: SunkMessage, name: string) =>
  m.headers.find((h) => h.toLowerCase().startsWith(`${name.toLowerCase()}:`))?.slice(name.length + 1).trim()

/** The parts of a multipart message: their headers and decoded bodies. */
function parts(m: SunkMessage): { type: string; body: string }[] {
  const boundary = /boundary="?([^";]+)"?/i.exec(header(m, 'Content-Type') ?? '')?.[1]
  assert.ok(boundary, 'a multipart message')
  return m.text
    .split(`--${boundary}`)
    .slice(1, -1)
    .map((chunk) => {
      const [head = '', ...rest] = chunk.replace(/^\r\n/, '').split('\r\n\r\n')
      const raw = rest.join('\r\n\r\n').trim()
      const type = /content-type:\s*([^;\r\n]+)/i.exec(head)?.[1]?.trim() ?? ''
      const encoding = /content-transfer-encoding:\s*(\S+)/i.exec(head)?.[1]?.toLowerCase()
      const body =
        encoding === 'base64'
          ? Buffer.from(raw.replace(/\s+/g, ''), 'base64').toString('utf8')
          : encoding === 'quoted-printable'
            ? Buffer.from(raw.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_s, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8')
            : raw
      return { type, body }
    })
}

describe('abuse-report e-mails with an XARF part', () => {
  const stops: (() => Promise<void>)[] = []
  after(async () => {
    for (const stop of stops.reverse()) await stop()
  })

  it('reach an SMTP sink with a text part, an XARF 4.0.0 part valid against the pinned schema, a derived Message-ID, and References on updates', async () => {
    const sink: Sink = await startSink({ starttls: false })
    stops.push(() => sink.close())
    const policy = await alertsPolicy(`evaluate_every: 1h
lease: 2h
update_every: 5m
retry: { min: 100ms, max: 1s }
dir: ./alerts
email:
  smtp: { host: 127.0.0.1, port: ${sink.port}, tls: none }
  from: abuse-reports@relay.isp.example
  to: [abuse@isp.example]
  reporter_org: Example ISP
contacts:
  "address:127.0.9.71": noc@customer.example
rules:
  default:
    - { name: message_burst, kind: volume, counter: messages, window: 5m, above: 500, severity: critical, action: { penalty_box: 1h, notify_customer: true } }
`)
    const stats = new MemoryStatsStore({ maxClients: 1000, maxBaselines: 100, snapshotFile: null })
    const box = new PenaltyBox(new MemoryBackend(1000).penaltyStore('outbound', 100), { instance: 'outbound', defaultDurationMs: 3_600_000, log })
    const running = (await startAlerting({ loaded: policy, stats, backend: null, penaltyBox: () => box, log })) as RunningAlerting
    stops.push(() => running.stop())
    const t0 = Date.now()
    observeSpam(stats, '127.0.9.71', 600, t0)
    await running.alerting.evaluate(t0)
    const [incident] = await running.alerting.list()
    assert.ok(incident)
    await eventually(() => Promise.resolve(sink.messages.length), (n) => n >= 2, { ms: 20_000, what: 'the report and the customer notice' })

    const report = sink.messages.find((m) => m.to.includes('abuse@isp.example'))!
    assert.equal(header(report, 'Message-ID'), `<${incident.id}@relay.isp.example>`)
    assert.equal(header(report, 'Auto-Submitted'), 'auto-generated')
    assert.match(header(report, 'Subject') ?? '', new RegExp(`^\\[${incident.id}\\] critical message_burst: 600 messages in 5m`))
    const [text, xarf] = parts(report)
    assert.equal(text?.type, 'text/plain')
    assert.match(text.body, /Client: +address:127\.0\.9\.71/)
    assert.match(text.body, /subject "Cheap meds, 90% off" message-id <spam\d+@bot\.example>/)
    assert.equal(xarf?.type, 'application/json')
    const json = JSON.parse(xarf.body) as { xarf_version: string; class: string; type: string; source_identifier: string; evidence: { payload: string }[] }
    const schema = JSON.parse(await readFile(new URL('../fixtures/xarf/xarf-4.0.0-core.schema.json', import.meta.url), 'utf8')) as object
    const validate = new Ajv({ allErrors: true }).compile(schema)
    assert.ok(validate(json), JSON.stringify(validate.errors))
    assert.deepEqual([json.xarf_version, json.class, json.type, json.source_identifier], ['4.0.0', 'messaging', 'spam', '127.0.9.71'])
    const evidence = JSON.parse(Buffer.from(json.evidence[0]!.payload, 'base64').toString('utf8')) as { counts: { accepted: number } }
    assert.equal(evidence.counts.accepted, 600)

    const [entry] = await box.list()
    assert.deepEqual([entry?.scope, entry?.value, entry?.who], ['address', '127.0.9.71', 'alert:message_burst'], 'the rule put the bot in the penalty box')
    const notice = sink.messages.find((m) => m.to.includes('noc@customer.example'))!
    assert.equal(header(notice, 'Message-ID'), `<${incident.id}.customer@relay.isp.example>`)
    assert.match(notice.text.replace(/=\r\n/g, ''), /Its mail is held back until \d{4}-/)

    // An update: threaded under the first report.
    observeSpam(stats, '127.0.9.71', 700, t0 + 6 * MINUTE)
    await running.alerting.evaluate(t0 + 6 * MINUTE)
    await eventually(() => Promise.resolve(sink.messages.length), (n) => n >= 3, { ms: 20_000, what: 'the update report' })
    const update = sink.messages[2]!
    assert.deepEqual(update.to, ['abuse@isp.example'], 'the customer is told once, at firing')
    assert.equal(header(update, 'In-Reply-To'), `<${incident.id}@relay.isp.example>`)
    assert.equal(header(update, 'References'), `<${incident.id}@relay.isp.example>`)
    assert.notEqual(header(update, 'Message-ID'), header(report, 'Message-ID'))
    assert.match(header(update, 'Subject') ?? '', /^Update: /)
  })
})
