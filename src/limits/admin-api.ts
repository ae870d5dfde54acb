import type { IncomingMessage, ServerResponse } from 'node:http'
import { z } from 'zod'
import { duration } from '../config/units.js'
import type { AdminServer } from '../metrics/admin-server.js'
import { authorized } from '../metrics/admin-auth.js'
import { json } from '../metrics/admin-server.js'
import type { PenaltyBox } from './penalty-box.js'
import { MAX_PENALTY_MS, PenaltyRequestError } from './penalty-box.js'
import { penaltyScope } from './schema.js'

/** What the penalty box API needs from the running relay. */
export interface PenaltyApiDeps {
  /** The bearer token (admin.token_file), or null when none is configured: then every call is refused. */
  token(): string | null
  /** Names of the instances running in this process. */
  instances(): readonly string[]
  penaltyBox(instance: string): PenaltyBox | undefined
}

const MAX_BODY = 16 * 1024
const SCOPE_ERROR = `must be one of ${penaltyScope.options.join(', ')}`

const text = () => z.string({ error: (issue) => (issue.input === undefined ? 'missing' : 'expected a string') })

/** Body of POST /api/penalty; PenaltyBox.add checks the value, reason and author further. */
const addRequest = z.strictObject({
  instance: text().optional(),
  scope: z.enum(penaltyScope.options, { error: SCOPE_ERROR }),
  value: text(),
  why: text(),
  who: text(),
  duration: duration()
    .refine((ms) => ms > 0, 'must be positive')
    .refine((ms) => ms <= MAX_PENALTY_MS, 'must be at most 365d')
    .optional(),
})

/** Every problem of a request, each with its field: `scope: must be one of …; why: missing`. */
function requestError(error: z.ZodError): string {
  return error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ')
}

/**
 * The admin API of the penalty box, on the admin listener:
 *
 *   GET    /api/penalty?instance=outbound                      → { entries: [...] }
 *   POST   /api/penalty  { instance, scope, value, why, who, duration }  → 201 { entry }
 *   DELETE /api/penalty?instance=outbound&scope=address&value=192.0.2.7  → { removed: true } | 404
 *
 * Every call needs `Authorization: Bearer <token>`; without a configured token the API is off (403).
 */
export function addPenaltyApi(admin: AdminServer, deps: PenaltyApiDeps): void {
  admin.route('GET', '/api/penalty', async (req, res, url) => {
    if (!authorized(req, res, deps.token())) return
    const box = boxOf(res, deps, url.searchParams.get('instance'))
    if (box) json(res, 200, { instance: box.instance, entries: await box.list() })
  })
  admin.route('POST', '/api/penalty', async (req, res) => {
    if (!authorized(req, res, deps.token())) return
    const body = await readJson(req)
    if (!body) return json(res, 400, { error: 'expected a JSON object' })
    const parsed = addRequest.safeParse(body)
    if (!parsed.success) return json(res, 400, { error: requestError(parsed.error) })
    const { instance, scope, value, why, who, duration: durationMs } = parsed.data
    const box = boxOf(res, deps, instance ?? null)
    if (!box) return
    try {
      const entry = await box.add({ scope, value, who, why, durationMs })
      json(res, 201, { instance: box.instance, entry })
    } catch (err) {
      if (err instanceof PenaltyRequestError) return json(res, 400, { error: err.message })
      throw err
    }
  })
  admin.route('DELETE', '/api/penalty', async (req, res, url) => {
    if (!authorized(req, res, deps.token())) return
    const box = boxOf(res, deps, url.searchParams.get('instance'))
    if (!box) return
    const scope = penaltyScope.safeParse(url.searchParams.get('scope'))
    if (!scope.success) return json(res, 400, { error: `scope: ${SCOPE_ERROR}` })
    try {
      const removed = await box.remove(scope.data, url.searchParams.get('value') ?? '')
      json(res, removed ? 200 : 404, removed ? { removed } : { error: 'not in the penalty box' })
    } catch (err) {
      if (err instanceof PenaltyRequestError) return json(res, 400, { error: err.message })
      throw err
    }
  })
}

function boxOf(res: ServerResponse, deps: PenaltyApiDeps, instance: string | null): PenaltyBox | undefined {
  const running = deps.instances()
  const name = instance ?? (running.length === 1 ? running[0] : undefined)
  if (!name) {
    json(res, 400, { error: `say which instance: ${running.join(' or ')}` })
    return undefined
  }
  const box = deps.penaltyBox(name)
  if (!box) json(res, 404, { error: `instance ${name} does not run here (running: ${running.join(', ')})` })
  return box
}

/** The request's JSON object body (at most 16 KiB), or null. */
export async function readJson(req: IncomingMessage): Promise<Record<string, unknown> | null> {
  let text = ''
  for await (const chunk of req) {
    text += String(chunk)
    if (text.length > MAX_BODY) return null
  }
  try {
    const value: unknown = JSON.parse(text)
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null
  } catch {
    return null
  }
}
