import { hostname as systemHostname } from 'node:os'
import type { LoadedPolicy } from '../config/load.js'
import type { InstanceName } from '../config/schema.js'
import type { DnsLists } from './dns-lists.js'

/** What the DNS checks of one instance know besides the resolver (CheckDeps.dns). */
export interface DnsCheckContext {
  /** The policy's DNS lists and their health, shared by every instance. */
  readonly lists: DnsLists
  /** egress.addresses: where relayed mail leaves from. */
  readonly egress: readonly string[]
  /** The instance's host name: the authserv-id of Authentication-Results. */
  readonly hostname: string
  /** Names that are ours (host names, local domains): a client claiming one in HELO is lying. */
  readonly ourNames: readonly string[]
  /** Addresses that are ours (listeners, egress). */
  readonly ourAddresses: readonly string[]
}

/** Builds the context of one instance of a loaded policy. */
export function dnsCheckContext(loaded: LoadedPolicy, name: InstanceName, lists: DnsLists): DnsCheckContext {
  const policy = loaded.policy
  const instance = policy.instances[name]
  const host = (instance?.hostname ?? policy.hostname ?? systemHostname()).toLowerCase()
  const names = new Set([host, ...(policy.hostname ? [policy.hostname.toLowerCase()] : [])])
  for (const inst of Object.values(policy.instances)) {
    if (inst?.hostname) names.add(inst.hostname.toLowerCase())
    for (const domain of Object.keys(inst?.local.domains ?? {})) names.add(domain.toLowerCase())
  }
  const addresses = new Set(policy.egress.addresses)
  for (const inst of Object.values(policy.instances)) {
    // A wildcard listener address names no address in particular.
    for (const l of inst?.listeners ?? []) if (l.address !== '0.0.0.0' && l.address !== '::') addresses.add(l.address)
  }
  return { lists, egress: policy.egress.addresses, hostname: host, ourNames: [...names], ourAddresses: [...addresses] }
}
