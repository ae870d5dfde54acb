import { reportText } from './report-text.js'
import type { RequestTrackerConfig } from './schema.js'
import type { Sender } from './sender.js'
import type { Delivery } from './store.js'

interface TicketRef {
  id: string
}

/**
 * Request Tracker through REST 2 (`/REST/2.0`, `Authorization: token …`): one ticket per
 * incident. RT does not fold duplicate creations itself, so before creating, the ticket whose
 * subject carries the incident id is looked up (TicketSQL); a retry after a lost answer finds
 * the ticket made the first time. Later events are comments; the resolution also resolves it.
 */
export class RequestTrackerSender implements Sender {
  readonly name = 'request_tracker'
  readonly #base: string
  readonly #queue: string
  readonly #auth: string
  readonly #timeoutMs: number

  constructor(config: RequestTrackerConfig, token: string) {
    this.#base = `${config.url.replace(/\/$/, '')}/REST/2.0`
    this.#queue = config.queue
    this.#auth = `token ${token}`
    this.#timeoutMs = config.timeout
  }

  wants(): boolean {
    return true
  }

  async send(d: Delivery): Promise<void> {
    const i = d.incident
    const text = reportText(i, d.event)
    let ticket = await this.find(i.id)
    if (!ticket) {
      ticket = await this.#call<TicketRef>('POST', '/ticket', {
        Queue: this.#queue,
        Subject: `[${i.id}] ${i.severity} ${i.rule}: ${i.summary}`.slice(0, 200),
        Content: text,
        ContentType: 'text/plain',
      })
    } else if (d.event !== 'firing') {
      await this.#call('POST', `/ticket/${ticket.id}/comment`, { Subject: `${d.event}: ${i.summary}`.slice(0, 200), Content: text, ContentType: 'text/plain' })
    }
    if (d.event === 'resolved') await this.#call('PUT', `/ticket/${ticket.id}`, { Status: 'resolved' })
  }

  /** The ticket of an incident, by the id in its subject. */
  async find(incidentId: string): Promise<TicketRef | null> {
    const query = new URLSearchParams({ query: `Subject LIKE '[${incidentId}]'`, fields: 'Subject' })
    const found = await this.#call<{ items: (TicketRef & { Subject?: string })[] }>('GET', `/tickets?${query.toString()}`)
    return found.items.find((t) => t.Subject?.startsWith(`[${incidentId}]`)) ?? null
  }

  async #call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.#base}${path}`, {
      method,
      headers: { authorization: this.#auth, accept: 'application/json', ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(this.#timeoutMs),
    })
    const text = await res.text()
    if (!res.ok) throw new Error(`RT ${method} ${path} answered ${res.status}: ${text.slice(0, 200)}`)
    return JSON.parse(text) as T
  }
}
