import { pino } from 'pino'
import type { Logger } from 'pino'
import { DnsServices } from '../dns/services.js'
import { compileInstance } from './instance-policy.js'
import type { InstancePolicy } from './instance-policy.js'
import type { LoadedPolicy } from './load.js'
import type { InstanceName } from './schema.js'
import { INSTANCE_NAMES } from './schema.js'

/**
 * Compiles every instance of a loaded tree without touching the network (no DNS lookup, no
 * Redis; limit checks use private memory state): what `check-config` does to prove a tree
 * compiles, with the same dependencies the service builds.
 */
export function compileOffline(
  loaded: LoadedPolicy,
  log: Logger = pino({ level: 'silent' }),
): { dns: DnsServices; policies: Map<InstanceName, InstancePolicy> } {
  const dns = DnsServices.offline(loaded, log)
  const policies = new Map<InstanceName, InstancePolicy>()
  for (const name of INSTANCE_NAMES) {
    if (!loaded.policy.instances[name]) continue
    policies.set(name, compileInstance(loaded, name, { resolver: dns.resolver, dns: dns.context(loaded, name), log, now: Date.now }))
  }
  return { dns, policies }
}
