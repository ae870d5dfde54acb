import { Counter, Gauge, Histogram } from 'prom-client'
import { bound } from './bound.js'
import { registry } from './registry.js'

/** Limit checks that found a client over its limit, by check, dimension, class and mode. */
export const limitHits = new Counter({
  name: 'smarthost_limit_hits_total',
  help: 'Clients found over a limit, by check, dimension (address, subnet, user, sender_domain…), client class and mode (warn: logged only)',
  labelNames: ['relay_instance', 'check', 'dimension', 'class', 'mode'] as const,
  registers: [registry],
})

/** Limiter operations Redis could not serve: answered from per-node memory (fail-open) or refused (tempfail). */
export const limitStateFailures = new Counter({
  name: 'smarthost_limit_state_failures_total',
  help: 'Limiter operations the shared state could not serve, by what happened instead: fail-open (per-node memory) or tempfail',
  labelNames: ['relay_instance', 'check', 'action'] as const,
  registers: [registry],
})

/** 1 while the Redis connection is ready; no sample at all with the memory backend. */
export const redisUp = new Gauge({
  name: 'smarthost_redis_up',
  // Every worker of serve --workers N reports the same shared value (or its own view of it): not a sum.
  aggregator: 'min',
  help: '1 while the Redis connection is ready, 0 while it is down or reconnecting (only with the redis backend)',
  labelNames: ['mode'] as const,
  registers: [registry],
})

/** Time of limiter, penalty-box and known-login operations against Redis. */
export const redisDuration = new Histogram({
  name: 'smarthost_redis_command_duration_seconds',
  help: 'Time of Redis operations (limiter counters, penalty box, known logins), including failed ones',
  labelNames: ['operation'] as const,
  buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1],
  registers: [registry],
})

/** Errors the Redis client reported (connection refused, timeouts…). */
export const redisErrors = new Counter({
  name: 'smarthost_redis_errors_total',
  help: 'Errors the Redis connection reported',
  registers: [registry],
})

/** Reconnection attempts to Redis. */
export const redisReconnects = new Counter({
  name: 'smarthost_redis_reconnects_total',
  help: 'Reconnection attempts to Redis after the connection was lost',
  registers: [registry],
})

const breakers = new Map<object, () => boolean>()

/** 1 while a Redis circuit breaker is open: limits answer without asking Redis. */
export const redisBreakerOpen = new Gauge({
  name: 'smarthost_redis_breaker_open',
  // Every worker of serve --workers N reports the same shared value (or its own view of it): not a sum.
  aggregator: 'max',
  help: '1 while the Redis circuit breaker is open: Redis did not answer, so limits and the penalty box follow state.redis.on_failure without asking it until a PING answers',
  registers: [registry],
  collect() {
    this.set([...breakers.values()].some((open) => open()) ? 1 : 0)
  },
})

/** Makes `isOpen` a source of smarthost_redis_breaker_open (`null` removes it). */
export function reportRedisBreaker(owner: object, isOpen: (() => boolean) | null): void {
  if (isOpen) breakers.set(owner, isOpen)
  else breakers.delete(owner)
}

/** Times the Redis circuit breaker opened. */
export const redisBreakerTrips = new Counter({
  name: 'smarthost_redis_breaker_trips_total',
  help: 'Times the Redis circuit breaker opened after Redis failed to answer several operations in a row',
  registers: [registry],
})

const boxSizes = new Map<string, () => Promise<number>>()

/** Entries in the penalty box now, per instance (read from the backend at scrape time). */
export const penaltyBoxEntries = new Gauge({
  name: 'smarthost_penalty_box_entries',
  // Every worker of serve --workers N reports the same shared value (or its own view of it): not a sum.
  aggregator: 'max',
  help: 'Clients in the penalty box now',
  labelNames: ['relay_instance'] as const,
  registers: [registry],
  async collect() {
    this.reset()
    for (const [instance, size] of boxSizes) {
      try {
        this.labels(instance).set(await size())
      } catch {
        // Redis down: no figure rather than a wrong one (smarthost_redis_up says why).
      }
    }
  },
})

/** Makes `size` the source of smarthost_penalty_box_entries for an instance. */
export function reportPenaltyBoxSize(instance: string, size: () => Promise<number>): void {
  boxSizes.set(instance, size)
}

/** Clients put in the penalty box, by who: a rule or an operator. */
export const penaltyBoxAdditions = new Counter({
  name: 'smarthost_penalty_box_additions_total',
  help: 'Clients put in the penalty box, by who (rule, operator)',
  labelNames: ['relay_instance', 'by'] as const,
  registers: [registry],
})

/** Connections whose replies are being delayed now. */
export const tarpitActive = new Gauge({
  name: 'smarthost_tarpit_active',
  help: 'Connections whose replies are being delayed now',
  labelNames: ['relay_instance'] as const,
  registers: [registry],
})

/** Refusals answered without delay because max_sockets connections were already tarpitted. */
export const tarpitSkipped = new Counter({
  name: 'smarthost_tarpit_skipped_total',
  help: 'Refusals sent without delay because tarpit.max_sockets connections were already delayed',
  labelNames: ['relay_instance'] as const,
  registers: [registry],
})

// Children by label values, in labelNames order, for the per-message path.
/** (relay_instance, check, dimension, class, mode) */
export const limitHitsFor = bound((...v) => limitHits.labels(...v))
/** (relay_instance, check, action) */
export const limitStateFailuresFor = bound((...v) => limitStateFailures.labels(...v))
/** (operation) */
export const redisDurationFor = bound((...v) => redisDuration.labels(...v))

/** Runs a Redis operation and observes its time, failed or not, as `operation` (limit, penalty_box, known_logins). */
export async function timedRedis<T>(operation: string, op: () => Promise<T>): Promise<T> {
  const started = performance.now()
  try {
    return await op()
  } finally {
    redisDurationFor(operation).observe((performance.now() - started) / 1000)
  }
}
