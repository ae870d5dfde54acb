import { timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { json } from './admin-server.js'

/**
 * Checks the bearer token of an admin API call (constant-time); answers 403 when no token is
 * configured (the API is off) and 401 for a missing or wrong one. True when the call may go on.
 */
export function authorized(req: IncomingMessage, res: ServerResponse, token: string | null): boolean {
  if (!token) {
    json(res, 403, { error: 'the admin API is off: name a token file in admin.token_file' })
    return false
  }
  const given = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? ''
  const a = Buffer.from(given)
  const b = Buffer.from(token)
  if (a.length !== b.length || !timingSafeEqual(a, b)) {
    res.setHeader('www-authenticate', 'Bearer')
    json(res, 401, { error: 'missing or wrong bearer token' })
    return false
  }
  return true
}
