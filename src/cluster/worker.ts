import cluster from 'node:cluster'
import type { InstanceName } from '../config/schema.js'
import { registry } from '../metrics/registry.js'
import { Service } from '../service/service.js'
import type { WorkerMessage } from './messages.js'
import { PrimaryLink } from './primary-link.js'

/**
 * A worker process of `serve --workers N`: serves SMTP on the listeners it shares with the other
 * workers, with the instance's state in the primary, and does what the primary says (reload,
 * drain, report metrics). It drains too when it is signalled itself or the primary goes away.
 */
export async function runWorker(opts: { configFile: string; instances?: readonly InstanceName[] }): Promise<number> {
  const id = cluster.worker?.id ?? 0
  const send = (message: WorkerMessage) => process.send?.(message)
  let service: Service | null = null
  let draining: Promise<void> | null = null
  const drain = (): Promise<void> => {
    draining ??= (async () => {
      await service?.shutdown()
      link.close()
      // The last notices (statistics of the last messages) are written before the process goes.
      if (process.connected) await new Promise<void>((resolve) => process.send?.({ t: 'drained' }, () => resolve()))
      process.exit(0)
    })()
    return draining
  }
  const link = PrimaryLink.ofProcess((message) => {
    if (message.t === 'reload' && service) {
      service.reload().then(
        (r) => send(r.ok ? { t: 'reloaded', ok: true } : { t: 'reloaded', ok: false, issues: r.issues }),
        (err: unknown) => send({ t: 'reloaded', ok: false, issues: [(err as Error).message] }),
      )
    } else if (message.t === 'drain') {
      void drain()
    } else if (message.t === 'metrics') {
      registry.getMetricsAsJSON().then((metrics) => send({ t: 'metrics', id: message.id, metrics: metrics }), () => send({ t: 'metrics', id: message.id, metrics: [] }))
    }
  })
  // The primary reloads and forwards: a SIGHUP sent to the whole process group must not end a worker.
  process.on('SIGHUP', () => undefined)
  process.once('SIGTERM', () => void drain())
  process.once('SIGINT', () => void drain())
  process.once('disconnect', () => void drain())
  service = await Service.start({ ...opts, cluster: { role: 'worker', id, link } })
  send({ t: 'ready' })
  return -1
}
