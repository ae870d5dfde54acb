import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

/** One incident event as the demo's abuse desk received it. */
export interface ReceivedIncident {
  /** ms since the demo's start when it arrived. */
  atMs: number
  type: string
  id: string
  rule: string
  severity: string
  clientKey: string
  summary: string
  /** Other rules firing for the same client key, folded into this incident. */
  alsoFiring: string[]
}

/** The abuse desk's webhook endpoint: verifies each POST's signature and keeps the incident events. */
export interface DemoReceiver {
  url: string
  /** The signing secret, for the policy's webhook secret_file. */
  secret: string
  readonly events: readonly ReceivedIncident[]
  /** POSTs whose Standard Webhooks signature did not check out (should stay 0). */
  readonly badSignatures: number
  close(): Promise<void>
}

/** `webhook-signature` holds `v1,<base64 HMAC-SHA256 of id.timestamp.body>` entries. */
function signed(key: Buffer, id: string, ts: string, body: string, header: string): boolean {
  const expected = createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest()
  return header.split(' ').some((entry) => {
    const given = Buffer.from(entry.startsWith('v1,') ? entry.slice(3) : '', 'base64')
    return given.length === expected.length && timingSafeEqual(given, expected)
  })
}

/** Starts the receiver on 127.0.0.1 with a fresh secret. */
export async function startReceiver(clock: () => number): Promise<DemoReceiver> {
  const key = randomBytes(24)
  const events: ReceivedIncident[] = []
  let badSignatures = 0
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString('utf8')))
    req.on('end', () => {
      const h = (name: string) => String(req.headers[name] ?? '')
      if (!signed(key, h('webhook-id'), h('webhook-timestamp'), body, h('webhook-signature'))) {
        badSignatures++
        return void res.writeHead(401).end()
      }
      try {
        const e = JSON.parse(body) as { type: string; data: Record<string, unknown> }
        const s = (k: string) => {
          const v = e.data[k]
          return typeof v === 'string' ? v : ''
        }
        const details = (e.data.evidence as { details?: { also_firing?: unknown } } | undefined)?.details
        const also = Array.isArray(details?.also_firing) ? details.also_firing.filter((x): x is string => typeof x === 'string') : []
        events.push({
          atMs: clock(),
          type: e.type,
          id: s('id'),
          rule: s('rule'),
          severity: s('severity'),
          clientKey: s('client_key'),
          summary: s('summary'),
          // "backscatter: 76 null-sender messages …": the rule's name.
          alsoFiring: also.map((a) => a.split(':')[0] ?? a),
        })
        res.writeHead(204).end()
      } catch {
        res.writeHead(400).end()
      }
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/abuse`,
    secret: `whsec_${key.toString('base64')}`,
    events,
    get badSignatures() {
      return badSignatures
    },
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
