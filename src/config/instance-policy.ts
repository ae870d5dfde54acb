import { hostname } from 'node:os'
import { Credentials, parseCredentials } from '../auth/credentials.js'
import { CHECKS } from '../checks/index.js'
import { Classifier, parseNetworkFile } from '../classes/classifier.js'
import { compilePipeline } from '../pipeline/compile.js'
import type { Pipeline } from '../pipeline/compile.js'
import type { CheckDeps } from '../pipeline/types.js'
import { LocalDomains } from '../relay/local-domains.js'
import { NetworkList } from '../relay/networks.js'
import { quarantineStore } from '../quarantine/store.js'
import type { QuarantineStore } from '../quarantine/store.js'
import type { LoadedPolicy } from './load.js'
import type { InstanceConfig, InstanceName } from './schema.js'

/**
 * Everything a session of one instance needs, compiled once per loaded policy and never
 * changed: sessions keep the snapshot they started with while a reload swaps in a new one.
 */
export interface InstancePolicy {
  readonly name: InstanceName
  readonly config: InstanceConfig
  readonly hostname: string
  readonly replyUrl: string | null
  readonly networks: NetworkList
  readonly localDomains: LocalDomains
  readonly credentials: Credentials | null
  readonly pipeline: Pipeline
  readonly files: LoadedPolicy['files']
  /** Gives sessions their client class (network lists, overrides, AUTH, check signals). */
  readonly classifier: Classifier
  /** Where held and refused messages are kept; null without a `quarantine` section. */
  readonly quarantine: QuarantineStore | null
}

/** Compiles one instance of a loaded policy. */
export function compileInstance(loaded: LoadedPolicy, name: InstanceName, deps: CheckDeps): InstancePolicy {
  const config = loaded.policy.instances[name]
  if (!config) throw new Error(`instance ${name} is not defined in ${loaded.file}`)
  const file = (path: string | undefined) => (path ? (loaded.files.get(path) ?? '') : '')
  const lines = (path: string | undefined) =>
    file(path)
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'))
  const domains = Object.fromEntries(
    Object.entries(config.local.domains).map(([domain, d]) => [
      domain,
      {
        valid: d.valid || d.valid_file ? [...(d.valid ?? []), ...lines(d.valid_file)] : undefined,
        invalid: [...(d.invalid ?? []), ...lines(d.invalid_file)],
      },
    ]),
  )
  const localDomains = new LocalDomains(domains, config.local.recipient_delimiter)
  const credPath = config.relay.credentials
  const parsed = credPath ? parseCredentials(credPath, file(credPath)) : null
  const credentials = parsed ? new Credentials(parsed.users, parsed.senders) : null
  return {
    name,
    config,
    hostname: config.hostname ?? loaded.policy.hostname ?? hostname().toLowerCase(),
    replyUrl: config.reply_url !== undefined ? config.reply_url : loaded.policy.reply_url,
    networks: new NetworkList(config.relay.networks),
    localDomains,
    credentials,
    pipeline: compilePipeline(CHECKS, { config, localDomains }, config.checks, credentials ? { ...deps, credentials } : deps),
    files: loaded.files,
    classifier: new Classifier(config.classes, (path) => parseNetworkFile(path, file(path)).cidrs),
    quarantine: config.quarantine
      ? quarantineStore(config.quarantine.dir, { maxSize: config.quarantine.max_size, maxAgeMs: config.quarantine.max_age })
      : null,
  }
}
