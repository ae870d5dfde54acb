import type { Logger } from 'pino'
import { IpcBackend } from '../cluster/ipc-backend.js'
import type { LoadedPolicy } from '../config/load.js'
import type { InstanceName } from '../config/schema.js'
import type { RelayEvents } from '../events/relay-events.js'
import type { StateBackend } from '../limits/backend.js'
import { openStateBackend } from '../limits/state-backend.js'
import { RelayStats } from '../stats/relay-stats.js'
import type { ClusterRole } from './options.js'

/** The backend the policy names; a worker's memory backend is the primary's, over IPC. */
export function openBackend(loaded: LoadedPolicy, cluster: ClusterRole | undefined, log: Logger): Promise<StateBackend> {
  if (cluster?.role === 'worker' && loaded.policy.state.backend === 'memory') return Promise.resolve(new IpcBackend(cluster.link))
  return openStateBackend(loaded, log)
}

/** Opens the statistics of the running instances on `backend` and feeds them the event stream; null when the policy turns them off. */
export async function openStats(
  loaded: LoadedPolicy,
  names: readonly InstanceName[],
  backend: StateBackend,
  events: RelayEvents,
  log: Logger,
): Promise<RelayStats | null> {
  const stats = await RelayStats.open(loaded, names, backend, log.child({ component: 'stats' }))
  stats?.subscribe(events)
  return stats
}

/** Closes a backend a reload replaced, once the old policy's sessions had their drain_timeout. */
export function closeAfterDrain(previous: StateBackend, loaded: LoadedPolicy, names: readonly InstanceName[]): void {
  // Sessions of the old policy may still count on the old backend until they drain.
  setTimeout(() => void previous.close(), loaded.policy.instances[names[0] as InstanceName]?.limits.drain_timeout ?? 30_000).unref()
}
