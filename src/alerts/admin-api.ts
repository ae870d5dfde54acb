import { z } from 'zod'
import { readJson } from '../limits/admin-api.js'
import { authorized } from '../metrics/admin-auth.js'
import type { AdminServer } from '../metrics/admin-server.js'
import { json } from '../metrics/admin-server.js'
import type { Alerting } from './alerting.js'
import { IncidentNotFound } from './alerting.js'

/** What the alerts API needs. */
export interface AlertsApiDeps {
  /** The admin API's bearer token, or null: then every call is refused. */
  token(): string | null
  alerting(): Alerting | null
}

const change = z.strictObject({
  id: z.string({ error: 'missing' }).min(1, 'missing'),
  by: z.string({ error: 'missing' }).trim().min(1, 'say who'),
})

/**
 * The admin API of incidents, on the admin listener, with the penalty API's bearer token:
 *
 *   GET  /api/alerts                 → { incidents: [...] } (most recently seen first; ?status=firing|resolved)
 *   GET  /api/alerts/show?id=ID      → { incident } | 404
 *   POST /api/alerts/ack     { id, by } → { incident }: the desk has seen it
 *   POST /api/alerts/resolve { id, by } → { incident }: resolved now, the resolution is delivered
 */
export function addAlertsApi(admin: AdminServer, deps: AlertsApiDeps): void {
  const running = (res: Parameters<typeof json>[0]) => {
    const a = deps.alerting()
    if (!a) json(res, 404, { error: 'alerting is off here: the policy has no alerts section, or alerts.enabled is false' })
    return a
  }
  admin.route('GET', '/api/alerts', async (req, res, url) => {
    if (!authorized(req, res, deps.token())) return
    const a = running(res)
    if (!a) return
    const status = url.searchParams.get('status')
    const all = await a.list()
    json(res, 200, { incidents: status ? all.filter((i) => i.status === status) : all })
  })
  admin.route('GET', '/api/alerts/show', async (req, res, url) => {
    if (!authorized(req, res, deps.token())) return
    const a = running(res)
    if (!a) return
    const id = url.searchParams.get('id') ?? ''
    const incident = await a.get(id)
    if (!incident) return json(res, 404, { error: `no incident ${id}` })
    json(res, 200, { incident })
  })
  for (const action of ['ack', 'resolve'] as const) {
    admin.route('POST', `/api/alerts/${action}`, async (req, res) => {
      if (!authorized(req, res, deps.token())) return
      const a = running(res)
      if (!a) return
      const parsed = change.safeParse(await readJson(req))
      if (!parsed.success) return json(res, 400, { error: parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ') })
      try {
        const incident = action === 'ack' ? await a.ack(parsed.data.id, parsed.data.by) : await a.resolve(parsed.data.id, parsed.data.by)
        json(res, 200, { incident })
      } catch (err) {
        if (err instanceof IncidentNotFound) return json(res, 404, { error: err.message })
        throw err
      }
    })
  }
}
