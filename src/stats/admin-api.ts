import type { ServerResponse } from 'node:http'
import { isIP } from 'node:net'
import { z } from 'zod'
import { subnetOf } from '../limits/dimensions.js'
import { authorized } from '../metrics/admin-auth.js'
import type { AdminServer } from '../metrics/admin-server.js'
import { json } from '../metrics/admin-server.js'
import type { RelayStats } from './relay-stats.js'
import { spfRelayReport } from './spf-report.js'
import { SORT_FIELDS } from './store.js'
import type { ClientKey, StatsSource, StatsStore } from './store.js'
import { WINDOW_NAMES } from './windows.js'

/** What the statistics API needs from the running relay. */
export interface StatsApiDeps {
  token(): string | null
  stats(): RelayStats | null
}

/** The `backend` an answer names: a node answering from its own memory while Redis is down says so. */
const SOURCE_TEXT: Readonly<Record<StatsSource, string>> = { memory: 'memory', redis: 'redis', local: 'this node only: Redis is not answering' }

const DIMENSIONS = ['address', 'subnet', 'user', 'sender_domain'] as const

/** The query of GET /api/stats/top (also what a dashboard's URLs are checked against). */
export const statsTopQuery = z.strictObject({
  instance: z.string().optional(),
  by: z.enum(DIMENSIONS, { error: `must be one of ${DIMENSIONS.join(', ')}` }).default('address'),
  window: z.enum(WINDOW_NAMES as [string, ...string[]], { error: `must be one of ${WINDOW_NAMES.join(', ')}` }).default('15m'),
  sort: z.enum(SORT_FIELDS, { error: `must be one of ${SORT_FIELDS.join(', ')}` }).default('messages'),
  limit: z.coerce.number({ error: 'must be a number' }).int('must be a whole number').min(1, 'must be at least 1').max(1000, 'must be at most 1000').default(20),
})

/** The query of GET /api/stats/spf. */
export const statsSpfQuery = z.strictObject({
  instance: z.string().optional(),
  window: statsTopQuery.shape.window.default('24h'),
  limit: statsTopQuery.shape.limit,
})

/**
 * The per-client statistics on the admin listener (same bearer token as /api/penalty):
 *
 *   GET /api/stats/top?instance=outbound&by=address&window=15m&sort=messages&limit=20  → { backend, rows: [...] }
 *   GET /api/stats/client?instance=outbound&key=192.0.2.7                          → { backend, client: {...} } | 404
 *   GET /api/stats/spf?instance=outbound&window=24h&limit=20                        → { backend, rows: [{ domain, messages, clients }] }
 *
 * `key` is `<dimension>:<value>`, or a bare address (then `address:`), CIDR subnet, user or domain guess.
 */
export function addStatsApi(admin: AdminServer, deps: StatsApiDeps): void {
  admin.route('GET', '/api/stats/top', async (req, res, url) => {
    if (!authorized(req, res, deps.token())) return
    const parsed = statsTopQuery.safeParse(Object.fromEntries(url.searchParams))
    if (!parsed.success) return json(res, 400, { error: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') })
    const found = storeOf(res, deps, parsed.data.instance)
    if (!found) return
    const { by, window, sort, limit } = parsed.data
    const { rows, source } = await found.store.top({ by, window: window as (typeof WINDOW_NAMES)[number], sort, limit })
    json(res, 200, { instance: found.instance, by, window, sort, backend: SOURCE_TEXT[source], rows })
  })
  // The sender domains whose SPF passes for their customers but lacks our egress: who needs an include: of the relay.
  admin.route('GET', '/api/stats/spf', async (req, res, url) => {
    if (!authorized(req, res, deps.token())) return
    const parsed = statsSpfQuery.safeParse(Object.fromEntries(url.searchParams))
    if (!parsed.success) return json(res, 400, { error: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') })
    const found = storeOf(res, deps, parsed.data.instance)
    if (!found) return
    const report = await spfRelayReport(found.store, parsed.data.window as (typeof WINDOW_NAMES)[number], parsed.data.limit)
    json(res, 200, { instance: found.instance, window: report.window, backend: SOURCE_TEXT[report.source], rows: report.rows })
  })
  admin.route('GET', '/api/stats/client', async (req, res, url) => {
    if (!authorized(req, res, deps.token())) return
    const found = storeOf(res, deps, url.searchParams.get('instance') ?? undefined)
    if (!found) return
    const key = clientKey(url.searchParams.get('key') ?? '')
    if (!key) return json(res, 400, { error: 'key: expected address:IP, subnet:CIDR, user:NAME or sender_domain:DOMAIN (or a bare IP address)' })
    const view = await found.store.show(key)
    if (!view) return json(res, 404, { error: `nothing counted for ${key} in the last 24 hours` })
    json(res, 200, { instance: found.instance, backend: SOURCE_TEXT[view.source], client: view })
  })
}

/** `192.0.2.7` → `address:192.0.2.7`; `192.0.2.0/24` → `subnet:…`; a typed key as it is; null for anything else. */
export function clientKey(text: string): ClientKey | null {
  const value = text.trim()
  const typed = /^(address|subnet|user|sender_domain):(.+)$/.exec(value)
  if (typed) return `${typed[1] as (typeof DIMENSIONS)[number]}:${typed[1] === 'sender_domain' ? typed[2]!.toLowerCase() : typed[2]!}`
  if (isIP(value)) return `address:${value}`
  const cidr = /^(.+)\/\d+$/.exec(value)
  if (cidr && isIP(cidr[1]!)) return `subnet:${subnetOf(cidr[1]!) ?? value}`
  return null
}

function storeOf(res: ServerResponse, deps: StatsApiDeps, instance: string | undefined): { instance: string; store: StatsStore } | undefined {
  const stats = deps.stats()
  if (!stats) {
    json(res, 404, { error: 'statistics are off: stats.enabled is false in the policy' })
    return undefined
  }
  const running = stats.instances
  const name = instance ?? (running.includes('outbound') ? 'outbound' : running[0])
  const store = name ? stats.store(name) : undefined
  if (!name || !store) {
    json(res, 404, { error: `instance ${name ?? '?'} does not run here (running: ${running.join(', ')})` })
    return undefined
  }
  return { instance: name, store }
}
