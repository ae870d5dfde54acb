import type { Logger } from 'pino'
import { compileInstance } from '../config/instance-policy.js'
import type { InstancePolicy } from '../config/instance-policy.js'
import type { LoadedPolicy } from '../config/load.js'
import type { InstanceName } from '../config/schema.js'
import type { DnsServices } from '../dns/services.js'
import type { StateBackend } from '../limits/backend.js'
import { InstanceState } from '../limits/instance-state.js'
import type { CheckDeps } from '../pipeline/types.js'
import type { Scanner } from '../scan/scanner.js'

/** What an instance's checks run on besides its policy. */
export interface CompileDeps {
  /** The instance's logger. */
  log: Logger
  dns: DnsServices
  /** The state backend; null: the checks run without shared state. */
  backend: StateBackend | null
  /** The content scanner; absent where nothing is scanned. */
  scanner: Scanner | undefined
}

/**
 * Compiles one instance of the loaded policy with its checks' dependencies. `state` is the
 * shared state those checks use (its penalty box is the instance's), when there is a backend.
 */
export function compilePolicy(loaded: LoadedPolicy, name: InstanceName, d: CompileDeps): { policy: InstancePolicy; state: InstanceState | undefined } {
  const config = loaded.policy.instances[name]
  const state =
    d.backend && config ? new InstanceState(d.backend, { instance: name, penaltyBox: config.penalty_box, log: d.log }) : undefined
  const deps: CheckDeps = {
    resolver: d.dns.resolver,
    dns: d.dns.context(loaded, name),
    log: d.log,
    now: Date.now,
    ...(state ? { state } : {}),
    ...(d.scanner ? { scanner: d.scanner } : {}),
  }
  return { policy: compileInstance(loaded, name, deps), state }
}
