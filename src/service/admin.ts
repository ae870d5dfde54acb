import type { Logger } from 'pino'
import type { LoadedPolicy } from '../config/load.js'
import type { InstanceName } from '../config/schema.js'
import { addPenaltyApi } from '../limits/admin-api.js'
import type { PenaltyBox } from '../limits/penalty-box.js'
import { AdminServer } from '../metrics/admin-server.js'
import { addStatsApi } from '../stats/admin-api.js'
import type { RelayStats } from '../stats/relay-stats.js'

/** What the admin listener reads from the running relay; each is asked per request, so a reload shows at once. */
export interface AdminSources {
  /** /readyz: ready, and not draining. */
  ready: () => boolean
  /** The admin API's bearer token; null: no token configured. */
  token: () => string | null
  instances: () => readonly InstanceName[]
  penaltyBox: (name: InstanceName) => PenaltyBox | undefined
  stats: () => RelayStats | null
  log: Logger
}

/** The admin HTTP server with the penalty box and statistics APIs (the alerting adds its own when it starts). */
export function createAdminServer(s: AdminSources): AdminServer {
  const admin = new AdminServer({ ready: s.ready, log: s.log })
  addPenaltyApi(admin, {
    token: s.token,
    instances: s.instances,
    penaltyBox: (name) => s.penaltyBox(name as InstanceName),
  })
  addStatsApi(admin, { token: s.token, stats: s.stats })
  return admin
}

/** Where the admin listener binds: a single running instance's own `admin`, else the policy's. */
export function adminSettings(loaded: LoadedPolicy, names: readonly InstanceName[]): { address: string; port: number } {
  const only = names.length === 1 ? loaded.policy.instances[names[0] as InstanceName] : undefined
  return only?.admin ?? loaded.policy.admin
}
