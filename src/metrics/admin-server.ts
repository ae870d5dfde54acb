import { once } from 'node:events'
import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Logger } from 'pino'
import { degradedParts } from './degraded.js'
import { registry } from './registry.js'

/** A route handler of the admin listener. */
export type AdminHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>

/**
 * The admin HTTP listener: /metrics (Prometheus), /healthz (the process is alive), /readyz
 * (every listener accepts connections; `degraded` lists what it runs without). Other features
 * add routes with `route()`.
 */
export class AdminServer {
  readonly #server: Server
  readonly #routes = new Map<string, AdminHandler>()
  readonly #log: Logger
  #metrics: () => Promise<string> = () => registry.metrics()

  constructor(opts: { ready: () => boolean; log: Logger }) {
    this.#log = opts.log
    this.route('GET', '/metrics', async (_req, res) => {
      const body = await this.#metrics()
      res.writeHead(200, { 'content-type': registry.contentType }).end(body)
    })
    this.route('GET', '/healthz', (_req, res) => json(res, 200, { status: 'ok' }))
    this.route('GET', '/readyz', (_req, res) => {
      const ok = opts.ready()
      // Degraded parts (Redis behind an open breaker, a DNS list off) are listed, not failed:
      // the relay still answers every client, and a balancer that took every node out would not.
      const degraded = degradedParts()
      json(res, ok ? 200 : 503, { status: ok ? 'ready' : 'not ready', ...(degraded.length ? { degraded } : {}) })
    })
    this.#server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://admin')
      const handler = this.#routes.get(`${req.method ?? 'GET'} ${url.pathname}`)
      if (!handler) return json(res, 404, { error: 'not found' })
      Promise.resolve(handler(req, res, url)).catch((err: unknown) => {
        this.#log.error({ err, path: url.pathname }, 'admin request failed')
        if (!res.headersSent) json(res, 500, { error: 'internal error' })
      })
    })
  }

  /** Where /metrics comes from instead of this process's registry (the primary of `serve --workers N`: every process's, aggregated). */
  metricsFrom(source: () => Promise<string>): void {
    this.#metrics = source
  }

  /** Adds a handler for `METHOD /path`. */
  route(method: string, path: string, handler: AdminHandler): void {
    this.#routes.set(`${method} ${path}`, handler)
  }

  async listen(port: number, address: string): Promise<AddressInfo> {
    this.#server.listen(port, address)
    await once(this.#server, 'listening')
    return this.#server.address() as AddressInfo
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }
}

/** Sends a JSON response. */
export function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
}
