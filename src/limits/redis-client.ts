import { once } from 'node:events'
import { Cluster, Redis } from 'ioredis'
import type { RedisOptions } from 'ioredis'
import type { Logger } from 'pino'
import { redisErrors, redisReconnects, redisUp } from '../metrics/limit-metrics.js'
import type { RedisConfig } from './schema.js'

/** A standalone, Sentinel-backed or Cluster client: the commands the state backend uses are common to both. */
export type RedisClient = Redis | Cluster

const hostPort = (s: string) => {
  const i = s.lastIndexOf(':')
  return { host: s.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(s.slice(i + 1)) }
}

/** Reconnect after 50 ms, doubling up to 2 s, for ever: the relay never gives up on Redis. */
const retry = (times: number) => Math.min(50 * 2 ** Math.min(times, 6), 2000)

/**
 * Connects to Redis as the policy says (url, sentinels or cluster). Commands fail at once
 * while the connection is down (no offline queue) and after `command_timeout`, so a limit
 * check never waits on a dead Redis: the backend's fail mode answers instead. The client
 * reconnects by itself; `smarthost_redis_up` follows its state.
 */
export function connectRedis(config: RedisConfig, password: string | undefined, log: Logger): RedisClient {
  const common: RedisOptions = {
    keyPrefix: config.key_prefix,
    connectTimeout: config.connect_timeout,
    commandTimeout: config.command_timeout,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    // Commands of one event-loop turn (the dimensions of one check) go out as one pipeline.
    enableAutoPipelining: true,
    ...(password ? { password } : {}),
  }
  let client: RedisClient
  if (config.cluster) {
    client = new Cluster(config.cluster.map(hostPort), {
      keyPrefix: config.key_prefix,
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      clusterRetryStrategy: retry,
      redisOptions: { connectTimeout: config.connect_timeout, commandTimeout: config.command_timeout, maxRetriesPerRequest: 0, ...(password ? { password } : {}) },
    })
  } else if (config.sentinels) {
    client = new Redis({ ...common, sentinels: config.sentinels.map(hostPort), name: config.sentinel_name, retryStrategy: retry })
  } else {
    client = new Redis(config.url ?? '', { ...common, retryStrategy: retry })
  }
  const up = redisUp.labels(config.cluster ? 'cluster' : config.sentinels ? 'sentinel' : 'standalone')
  up.set(0)
  let wasReady = false
  client.on('ready', () => {
    up.set(1)
    if (wasReady) log.info('Redis connection is back')
    wasReady = true
  })
  client.on('close', () => up.set(0))
  client.on('reconnecting', () => redisReconnects.inc())
  let lastLogged = 0
  client.on('error', (err: Error) => {
    redisErrors.inc()
    // A dead Redis reports an error per reconnection attempt: log one line per 10 s.
    if (Date.now() - lastLogged > 10_000) {
      lastLogged = Date.now()
      log.warn({ err: { message: err.message }, code: 'RELAY_ERR_STATE_UNAVAILABLE' }, 'Redis error; limits follow state.redis.on_failure')
    }
  })
  return client
}

/** Resolves when the client is ready, or after `ms` (the relay starts anyway; the fail mode applies). */
export async function whenReady(client: RedisClient, ms: number): Promise<boolean> {
  if (client.status === 'ready') return true
  const timer = AbortSignal.timeout(ms)
  try {
    await once(client, 'ready', { signal: timer })
    return true
  } catch {
    return false
  }
}
