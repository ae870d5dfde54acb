import { readFile } from 'node:fs/promises'
import { dirname, isAbsolute, join, resolve } from 'node:path'
import type { Logger } from 'pino'
import { secretLine } from '../config/load.js'
import type { LoadedPolicy } from '../config/load.js'
import type { EgressFinding } from '../dns/egress-watch.js'
import { RedisBackend } from '../limits/backend.js'
import type { StateBackend } from '../limits/backend.js'
import type { PenaltyBox } from '../limits/penalty-box.js'
import type { AdminServer } from '../metrics/admin-server.js'
import type { StatsStore } from '../stats/store.js'
import { addAlertsApi } from './admin-api.js'
import { Alerting } from './alerting.js'
import { RedisAuthFeed } from './auth-feed.js'
import { Dispatcher } from './dispatcher.js'
import { EmailSender } from './email-sender.js'
import { FileIncidentStore } from './file-incidents.js'
import { FileOutbox } from './file-outbox.js'
import { LocalLease, RedisLease } from './lease.js'
import { RedisIncidentStore } from './redis-incidents.js'
import { RedisOutbox } from './redis-outbox.js'
import { RequestTrackerSender } from './rt-sender.js'
import type { Sender } from './sender.js'
import { WebhookSender } from './webhook-sender.js'

/** What `startAlerting` needs from the running relay. */
export interface StartAlertingOptions {
  loaded: LoadedPolicy
  stats: StatsStore | null
  backend: StateBackend | null
  penaltyBox?: () => PenaltyBox | undefined
  classOf?: (key: string) => string
  /** The class the policy's network lists give a client key no session here showed (see AlertingDeps). */
  listedClassOf?: (key: string) => string | undefined
  /** The egress watch's latest round, for `egress_listed`. */
  egress?: () => readonly EgressFinding[]
  /** Where the alerts API goes; the bearer token is the admin API's. */
  admin?: { server: AdminServer; token: () => string | null }
  log: Logger
}

/** The running alerting and how to stop it. */
export interface RunningAlerting {
  alerting: Alerting
  stop(): Promise<void>
}

/**
 * Builds the alerting from the policy's `alerts` section: the outbox and incidents in files
 * (memory backend) or in Redis (the state backend's client, shared by the cluster), the
 * senders with their secrets, the evaluation lease, the admin API; then starts evaluating.
 * Null without an `alerts` section or with `enabled: false`.
 */
export async function startAlerting(opts: StartAlertingOptions): Promise<RunningAlerting | null> {
  const config = opts.loaded.policy.alerts
  if (!config?.enabled) {
    // The API still answers, so that `smarthost-guard alerts` says alerting is off rather than "not found".
    if (opts.admin) addAlertsApi(opts.admin.server, { token: opts.admin.token, alerting: () => null })
    return null
  }
  const log = opts.log.child({ component: 'alerts' })
  const base = dirname(opts.loaded.file)
  const path = (p: string) => (isAbsolute(p) ? p : resolve(base, p))
  const secret = async (file: string) => {
    const s = secretLine(await readFile(path(file), 'utf8'))
    if (!s) throw new Error(`${path(file)} holds no secret`)
    return s
  }
  const senders: Sender[] = []
  for (const w of config.webhooks) senders.push(new WebhookSender(w, await secret(w.secret_file)))
  if (config.email) {
    senders.push(new EmailSender(config.email))
    if (Object.keys(config.contacts).length) senders.push(new EmailSender(config.email, { name: 'customer', customerContacts: config.contacts }))
  }
  if (config.request_tracker) senders.push(new RequestTrackerSender(config.request_tracker, await secret(config.request_tracker.token_file)))

  const redis = opts.backend instanceof RedisBackend ? opts.backend.client : null
  const outbox = redis ? new RedisOutbox(redis) : await FileOutbox.open(join(path(config.dir), 'outbox.jsonl'))
  const incidents = redis ? new RedisIncidentStore(redis) : await FileIncidentStore.open(join(path(config.dir), 'incidents.json'))
  const lease = redis ? new RedisLease(redis, config.lease) : new LocalLease()
  const dispatcher = new Dispatcher(outbox, senders, config.retry, log)
  const alerting = new Alerting({
    config,
    stats: opts.stats,
    incidents,
    outbox,
    dispatcher,
    lease,
    ...(redis ? { authFeed: new RedisAuthFeed(redis) } : {}),
    log,
    ...(opts.penaltyBox ? { penaltyBox: opts.penaltyBox } : {}),
    ...(opts.classOf ? { classOf: opts.classOf } : {}),
    ...(opts.listedClassOf ? { listedClassOf: opts.listedClassOf } : {}),
    ...(opts.egress ? { egress: opts.egress } : {}),
  })
  if (opts.admin) addAlertsApi(opts.admin.server, { token: opts.admin.token, alerting: () => alerting })
  alerting.start()
  log.info({ senders: senders.map((s) => s.name), store: redis ? 'redis' : 'file' }, 'alerting started')
  return {
    alerting,
    async stop() {
      await alerting.stop()
      for (const s of senders) if (s instanceof EmailSender) s.close()
      await outbox.close()
      await incidents.close()
    },
  }
}
