import type { Logger } from 'pino'
import type { LoadedPolicy } from '../config/load.js'
import type { InstanceName } from '../config/schema.js'

/** A credentials file that does not exist yet means no SMTP AUTH users yet: said at start and on reload. */
export function warnMissingFiles(loaded: LoadedPolicy, names: readonly InstanceName[], log: Logger): void {
  for (const name of names) {
    const file = loaded.policy.instances[name]?.relay.credentials
    if (file && !loaded.files.has(file)) {
      log.warn(
        { instance: name, file },
        `relay.credentials ${file} does not exist: no SMTP AUTH users yet (add one with: smarthost-guard passwd --user NAME >> ${file}; then smarthost-guard reload)`,
      )
    }
  }
}
