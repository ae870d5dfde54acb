import { z } from 'zod'
import { duration } from '../config/units.js'
import { MAX_PENALTY_MS } from './penalty-box.js'
import { windowMs } from './rate-spec.js'

// Policy sections of the shared state: where limiter counters and the penalty box live
// (top-level `state`), and per instance the penalty box and the tarpit.

/** A time in the penalty box: longer than a year is a typo, and past a date's range every reply would fail. */
const penaltyDuration = () => duration().refine((ms) => ms > 0 && ms <= MAX_PENALTY_MS, 'must be more than 0 and at most 365d')

const HOST_PORT = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+):\d{1,5}$/i
const hostPort = () => z.string().regex(HOST_PORT, 'expected host:port, e.g. 10.0.0.5:6379 or [::1]:26379')

const redisSchema = z
  .strictObject({
    url: z
      .string()
      .regex(/^rediss?:\/\//, 'expected redis://host:port/db or rediss://…')
      .optional()
      .describe('Standalone Redis: redis://[user@]host:port/db (rediss:// for TLS); give the password in password_file'),
    sentinels: z.array(hostPort()).min(1).optional().describe('Redis Sentinel: the sentinels, host:port'),
    sentinel_name: z.string().min(1).optional().describe('Redis Sentinel: the master group name'),
    cluster: z.array(hostPort()).min(1).optional().describe('Redis Cluster: seed nodes, host:port'),
    password_file: z.string().optional().describe('File whose first line is the Redis password'),
    key_prefix: z
      .string()
      .regex(/^[A-Za-z0-9:_{}.-]*$/)
      .default('shg:')
      .describe('Prefix of every key; the instance name follows, then rl:<check>:<dimension>:<value> or pb:…'),
    connect_timeout: duration().prefault('2s').describe('How long to wait for Redis at start and per connection attempt'),
    command_timeout: duration().prefault('500ms').describe('Longest a Redis command may take before it counts as a failure'),
    on_failure: z
      .enum(['fail-open', 'tempfail'])
      .default('fail-open')
      .describe('Redis unreachable: fail-open (per-node memory limits take over) or tempfail (421/451 4.3.0 until it is back)'),
  })
  .superRefine((r, ctx) => {
    const kinds = [r.url, r.sentinels, r.cluster].filter((k) => k !== undefined).length
    if (kinds !== 1) {
      ctx.addIssue({ code: 'custom', message: 'give exactly one of url, sentinels or cluster', path: [] })
    }
    if (r.sentinels && !r.sentinel_name) {
      ctx.addIssue({ code: 'custom', message: 'sentinels need sentinel_name (the master group)', path: ['sentinel_name'] })
    }
  })

/** Top-level `state`: the backend of rate limits and the penalty box. */
export const stateSchema = z
  .strictObject({
    backend: z
      .enum(['memory', 'redis'])
      .default('memory')
      .describe('memory: per process (one node); redis: shared by every node and kept across restarts'),
    memory: z
      .strictObject({
        max_entries: z
          .number()
          .int()
          .min(1000)
          .default(200_000)
          .describe('Most limiter counters kept in memory (least recently used go first), whatever the number of clients'),
      })
      .prefault({})
      .describe('In-process state (also the fail-open fallback of redis)'),
    redis: redisSchema.optional().describe('Redis connection, for backend: redis'),
  })
  .superRefine((s, ctx) => {
    if (s.backend === 'redis' && !s.redis) {
      ctx.addIssue({ code: 'custom', message: 'backend redis needs a redis section (url, sentinels or cluster)', path: ['redis'] })
    }
  })
  .prefault({})
  .describe('Where rate-limit counters and the penalty box live')

export type StateConfig = z.output<typeof stateSchema>
export type RedisConfig = NonNullable<StateConfig['redis']>

/** What a penalty box entry holds: a client address, its /24 (/64) subnet, or a user. */
export const penaltyScope = z.enum(['address', 'subnet', 'user'])

/** Per-instance `penalty_box`. */
export const penaltyBoxSchema = z
  .strictObject({
    reply: z
      .enum(['tempfail', 'reject'])
      .default('tempfail')
      .describe('What a boxed client gets: tempfail (421/454 4.7.1) or reject (554 5.7.1), with the reason and until when'),
    default_duration: penaltyDuration().prefault('1h').describe('Time in the box when an operator gives none'),
    max_entries: z
      .number()
      .int()
      .min(100)
      .default(100_000)
      .describe('Most entries the memory backend keeps (the oldest go first)'),
    rules: z
      .array(
        z.strictObject({
          name: z
            .string()
            .regex(/^[a-z0-9_-]+$/)
            .describe('Name recorded as who put the client in the box (rule:<name>)'),
          limits: z
            .array(z.string().regex(/^[a-z]+\.[a-z0-9_]+$/, 'a check id such as mail.rate'))
            .min(1)
            .describe('Limit checks whose enforced hits count'),
          hits: z.number().int().min(1).describe('Hits within window that put the client in the box'),
          window: windowMs().describe('Window the hits are counted in (a whole number of seconds, at least 1s)'),
          duration: penaltyDuration().describe('Time in the box (at most 365d)'),
          scope: penaltyScope.default('address').describe('What goes in the box: the address, its /24 (/64) subnet or the user'),
        }),
      )
      .default([])
      .describe('Put a client in the box when limits hit it this often'),
  })
  .prefault({})
  .describe('Clients refused until a set time, by rule or by an operator (smarthost-guard penalty)')

export type PenaltyBoxConfig = z.output<typeof penaltyBoxSchema>
export type PenaltyScope = z.output<typeof penaltyScope>

/** Per-instance `tarpit`. */
export const tarpitSchema = z
  .strictObject({
    delay: duration()
      .prefault('0s')
      .describe('Delay of each refusal sent to a client that hit a limit or is in the penalty box; 0 turns it off'),
    max_sockets: z
      .number()
      .int()
      .positive()
      .default(50)
      .describe('Most connections delayed at once; others are answered at once'),
  })
  .prefault({})
  .describe('Slowing down offending clients, bounded')

export type TarpitConfig = z.output<typeof tarpitSchema>
