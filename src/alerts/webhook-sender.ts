import { createHmac } from 'node:crypto'
import type { WebhookConfig } from './schema.js'
import type { Sender } from './sender.js'
import type { Delivery } from './store.js'

/** The body of a webhook POST (Standard Webhooks' `type`, `timestamp`, `data`). */
export interface WebhookBody {
  type: `incident.${Delivery['event']}`
  timestamp: string
  data: Delivery['incident']
}

/**
 * The signing key of a secret: Standard Webhooks secrets are `whsec_` and base64 key bytes;
 * any other text is used as it is.
 */
export function webhookKey(secret: string): Buffer {
  return secret.startsWith('whsec_') ? Buffer.from(secret.slice(6), 'base64') : Buffer.from(secret, 'utf8')
}

/**
 * The `webhook-signature` header of a body: `v1,` and the base64 HMAC-SHA256 of `id.timestamp.body`.
 *
 * @example webhookSignature(webhookKey('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'), 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}')
 */
export function webhookSignature(key: Buffer, id: string, timestamp: number, body: string): string {
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`
}

/**
 * POSTs each incident event as JSON, signed the Standard Webhooks way: `webhook-id` is the
 * delivery id (the same on every retry, so a receiver folds repeats), `webhook-timestamp` the
 * attempt's time, `webhook-signature` the HMAC. Any 2xx confirms; anything else is retried.
 */
export class WebhookSender implements Sender {
  readonly name: string
  readonly #url: string
  readonly #key: Buffer
  readonly #timeoutMs: number

  constructor(config: WebhookConfig, secret: string) {
    this.name = config.name
    this.#url = config.url
    this.#key = webhookKey(secret)
    this.#timeoutMs = config.timeout
  }

  wants(): boolean {
    return true
  }

  async send(d: Delivery): Promise<void> {
    const body = JSON.stringify({ type: `incident.${d.event}`, timestamp: new Date().toISOString(), data: d.incident } satisfies WebhookBody)
    const timestamp = Math.floor(Date.now() / 1000)
    const res = await fetch(this.#url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'smarthost-guard',
        'webhook-id': d.id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': webhookSignature(this.#key, d.id, timestamp, body),
      },
      body,
      signal: AbortSignal.timeout(this.#timeoutMs),
    })
    await res.arrayBuffer().catch(() => undefined)
    if (res.status < 200 || res.status > 299) throw new Error(`${this.#url} answered ${res.status}`)
  }
}
