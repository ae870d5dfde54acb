import cluster from 'node:cluster'
import { availableParallelism } from 'node:os'
import { ClusterPrimary } from '../cluster/primary.js'
import { runWorker } from '../cluster/worker.js'
import { configIssues, loadPolicy } from '../config/load.js'
import { applyHeapPolicy } from '../heap.js'
import type { Policy } from '../config/schema.js'
import { Service } from '../service/service.js'
import type { Command } from './args.js'
import { UsageError, configPath, instanceName, parse } from './args.js'
import { pidFileFor, removePidFile, writePidFile } from './pid-file.js'

/** `smarthost-guard serve`: runs the relay until SIGTERM. */
export const serve: Command = {
  name: 'serve',
  summary: 'run the relay (both instances, or one with --instance)',
  usage: `Usage: smarthost-guard serve [--config FILE] [--instance outbound|inbound] [--workers auto|N]

Runs the relay. Without --instance every instance in the policy runs in this process (laptop,
demo); with it, only that one (production: one process per instance, like two Postfix
instances). The admin listener serves /metrics, /healthz and /readyz. Once ready, the
process id is written to the policy's pid_file (smarthost-guard-NAME.pid with --instance
NAME), which smarthost-guard reload uses; it is removed at a clean exit. A token file named
by admin.token_file that does not exist is created with a random token (mode 0600).

Options:
  -c, --config FILE     policy tree (default: $SMARTHOST_GUARD_CONFIG or the embedded policies/relay.yaml)
  -i, --instance NAME   run only this instance: outbound or inbound
  -w, --workers auto|N  SMTP worker processes on the same listeners (default: the policy's
                        workers, 1): with more than one, a primary process holds the limits,
                        penalty box, statistics, alerting and the admin listener for all of them

Signals (to the process in the pid file: the primary, with several workers, passes them on):
  SIGHUP                reload the policy (smarthost-guard reload sends it); an invalid one is
                        refused and the running one stays
  SIGTERM, SIGINT       stop accepting, let transactions in flight finish (limits.drain_timeout), exit
`,
  async run(argv) {
    const { values } = parse(argv, {
      config: { type: 'string', short: 'c' },
      instance: { type: 'string', short: 'i' },
      workers: { type: 'string', short: 'w' },
    })
    const instance = values.instance === undefined ? undefined : instanceName(values.instance)
    const flag = values.workers === undefined ? undefined : workerCount(values.workers)
    const configFile = configPath(values.config)
    const instances = instance ? [instance] : undefined
    applyHeapPolicy()
    if (cluster.isWorker) return runWorker({ configFile, ...(instances ? { instances } : {}) })
    let service: Service
    let workers = 1
    try {
      workers = flag ?? workersOf((await loadPolicy(configFile, { instances })).policy)
      service = await Service.start({ configFile, instances, ...(workers > 1 ? { cluster: { role: 'primary' as const } } : {}) })
    } catch (err) {
      const issues = configIssues(err)
      if (!issues) throw err
      process.stderr.write(`smarthost-guard: the policy is invalid:\n${issues.map((i) => `  ${i}`).join('\n')}\n`)
      return 1
    }
    const pidFile = service.policy.pid_file ? pidFileFor(service.policy.pid_file, instance) : null
    let primary: ClusterPrimary | null = null
    if (workers > 1) {
      try {
        primary = await ClusterPrimary.start(service, workers)
      } catch (err) {
        process.stderr.write(`smarthost-guard: ${(err as Error).message}\n`)
        await service.shutdown()
        return 1
      }
    }
    process.on('SIGHUP', () => {
      service.log.info('SIGHUP: reloading the policy')
      // A reload never takes the relay down: whatever it throws is logged and the relay runs on.
      ;(primary ?? service).reload().catch((err: unknown) => service.log.error({ err }, 'reload failed'))
    })
    const stop = (signal: string) => {
      service.log.info({ signal }, 'stopping')
      ;(primary ? primary.drain(drainTimeout(service.policy)) : service.shutdown())
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

/** The value of --workers: auto (one per core) or a count. */
function workerCount(value: string): number {
  if (value === 'auto') return availableParallelism()
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new UsageError(`--workers must be auto or a number from 1 to 256, got ${JSON.stringify(value)}`)
  return n
}

/** The policy's `workers`, resolved. */
function workersOf(policy: Policy): number {
  return policy.workers === 'auto' ? availableParallelism() : policy.workers
}

/** The longest drain_timeout of the instances: how long the primary waits for its workers' drain. */
function drainTimeout(policy: Policy): number {
  return Math.max(...Object.values(policy.instances).map((i) => i?.limits.drain_timeout ?? 0), 0)
}
