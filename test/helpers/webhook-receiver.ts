import { createHmac, timingSafeEqual } from 'node:crypto'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/** One POST as the receiver got it, with whether its Standard Webhooks signature checked out. */
export interface Received {
  id: string
  timestamp: number
  validSignature: boolean
  body: { type: string; timestamp: string; data: { id: string; status: string; [k: string]: unknown } }
}

/** A real webhook receiver on 127.0.0.1: verifies signatures as a Standard Webhooks consumer would. */
export interface Receiver {
  port: number
  url: string
  /** Every POST that reached it, repeats included. */
  received: Received[]
  /** POSTs by delivery id, repeats folded (what a receiver keeps). */
  unique(): Map<string, Received>
  /** Answer 503 to everything while true. */
  failing: boolean
  close(): Promise<void>
}

const keyOf = (secret: string) => (secret.startsWith('whsec_') ? Buffer.from(secret.slice(6), 'base64') : Buffer.from(secret))

/** Checks `webhook-signature` (space-separated `v1,<base64>` entries) against the HMAC of `id.timestamp.body`. */
export function verifySignature(secret: string, id: string, timestamp: string, body: string, header: string): boolean {
  const expected = createHmac('sha256', keyOf(secret)).update(`${id}.${timestamp}.${body}`).digest()
  return header.split(' ').some((entry) => {
    const [version, sig] = entry.split(',')
    if (version !== 'v1' || !sig) return false
    const given = Buffer.from(sig, 'base64')
    return given.length === expected.length && timingSafeEqual(given, expected)
  })
}

/** Starts a receiver on `port` (0: a free one). */
export async function startReceiver(secret: string, port = 0): Promise<Receiver> {
  const received: Received[] = []
  const r: Receiver = {
    port: 0,
    url: '',
    received,
    failing: false,
    unique: () => new Map(received.map((x) => [x.id, x])),
    close: () => Promise.resolve(),
  }
  const server: Server = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString('utf8')))
    req.on('end', () => {
      if (r.failing) return void res.writeHead(503).end('down for maintenance')
      const id = String(req.headers['webhook-id'] ?? '')
      const ts = String(req.headers['webhook-timestamp'] ?? '')
      received.push({
        id,
        timestamp: Number(ts),
        validSignature: verifySignature(secret, id, ts, body, String(req.headers['webhook-signature'] ?? '')),
        body: JSON.parse(body) as Received['body'],
      })
      res.writeHead(204).end()
    })
  })
  server.listen(port, '127.0.0.1')
  await once(server, 'listening')
  r.port = (server.address() as AddressInfo).port
  r.url = `http://127.0.0.1:${r.port}/hooks/abuse`
  r.close = async () => {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  return r
}
