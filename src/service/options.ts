import type { Logger } from 'pino'
import type { PrimaryLink } from '../cluster/primary-link.js'
import type { InstanceName } from '../config/schema.js'

/** How to start the relay. */
export interface ServiceOptions {
  configFile: string
  /** Instances to run; all defined ones when omitted. */
  instances?: readonly InstanceName[]
  /** Logger to use instead of one made from the policy's log level (tests). */
  log?: Logger
  /** This process's part in `serve --workers N`; absent: the whole relay in this one process. */
  cluster?: ClusterRole
}

/**
 * A process of `serve --workers N`. The primary holds the memory state, the statistics, the
 * alerting and the admin listener, and serves no SMTP; each worker serves SMTP on the shared
 * listeners, with its state through `link` (the memory backend) or on Redis directly.
 */
export type ClusterRole = { role: 'primary' } | { role: 'worker'; id: number; link: PrimaryLink }

/** Result of a reload: applied, or refused with the reasons. */
export type ReloadResult = { ok: true } | { ok: false; issues: string[] }
