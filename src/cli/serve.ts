import { configIssues } from '../config/load.js'
import { Service } from '../service.js'
import type { Command } from './args.js'
import { configPath, instanceName, parse } from './args.js'
import { pidFileFor, removePidFile, writePidFile } from './pid-file.js'

/** `smarthost-guard serve`: runs the relay until SIGTERM. */
export const serve: Command = {
  name: 'serve',
  summary: 'run the relay (both instances, or one with --instance)',
  usage: `Usage: smarthost-guard serve [--config FILE] [--instance outbound|inbound]

Runs the relay. Without --instance every instance in the policy runs in this process (laptop,
demo); with it, only that one (production: one process per instance, like two Postfix
instances). The admin listener serves /metrics, /healthz and /readyz. Once ready, the
process id is written to the policy's pid_file (smarthost-guard-NAME.pid with --instance
NAME), which smarthost-guard reload uses; it is removed at a clean exit. A token file named
by admin.token_file that does not exist is created with a random token (mode 0600).

Options:
  -c, --config FILE     policy tree (default: $SMARTHOST_GUARD_CONFIG or the embedded policies/relay.yaml)
  -i, --instance NAME   run only this instance: outbound or inbound

Signals:
  SIGHUP                reload the policy (smarthost-guard reload sends it); an invalid one is
                        refused and the running one stays
  SIGTERM, SIGINT       stop accepting, let transactions in flight finish (limits.drain_timeout), exit
`,
  async run(argv) {
    const { values } = parse(argv, {
      config: { type: 'string', short: 'c' },
      instance: { type: 'string', short: 'i' },
    })
    const instance = values.instance === undefined ? undefined : instanceName(values.instance)
    let service: Service
    try {
      service = await Service.start({
        configFile: configPath(values.config),
        instances: instance ? [instance] : undefined,
      })
    } catch (err) {
      const issues = configIssues(err)
      if (!issues) throw err
      process.stderr.write(`smarthost-guard: the policy is invalid:\n${issues.map((i) => `  ${i}`).join('\n')}\n`)
      return 1
    }
    const pidFile = service.policy.pid_file ? pidFileFor(service.policy.pid_file, instance) : null
    process.on('SIGHUP', () => {
      service.log.info('SIGHUP: reloading the policy')
      // A reload never takes the relay down: whatever it throws is logged and the relay runs on.
      service.reload().catch((err: unknown) => service.log.error({ err }, 'reload failed'))
    })
    const stop = (signal: string) => {
      service.log.info({ signal }, 'stopping')
      service
        .shutdown()
        .then(() => (pidFile ? removePidFile(pidFile) : undefined))
        .then(
          () => process.exit(0),
          (err: unknown) => {
            service.log.error({ err }, 'shutdown failed')
            process.exit(1)
          },
        )
    }
    process.once('SIGTERM', stop)
    process.once('SIGINT', stop)
    // Written once SIGHUP is handled: `reload` may signal as soon as the file is there.
    if (pidFile) {
      try {
        await writePidFile(pidFile)
      } catch (err) {
        process.stderr.write(`smarthost-guard: cannot write the pid file ${pidFile}: ${(err as Error).message}\n`)
        await service.shutdown()
        return 1
      }
      service.log.info({ file: pidFile, pid: process.pid }, 'pid file written')
    }
    return -1
  },
}
