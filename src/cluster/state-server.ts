import type { Logger } from 'pino'
import type { SessionOutcome } from '../alerts/session-feed.js'
import type { StateBackend } from '../limits/backend.js'
import { MemoryBackend } from '../limits/backend.js'
import { ConnectionSlots } from '../limits/connection-slots.js'
import type { SlotLimits } from '../limits/connection-slots.js'
import { readCounter, upsertCounter } from '../limits/lru-limiter.js'
import type { KnownLoginBounds } from '../limits/known-logins.js'
import type { PenaltyEntry } from '../limits/penalty-store.js'
import type { ClientKey, StatsStore, TopQuery } from '../stats/store.js'
import type { Observation } from '../stats/client-stats.js'
import type { Answer, Call } from './messages.js'

/** What the primary's state server reads: the running service's backend, statistics and alerting. */
export interface StateHost {
  backend(): StateBackend | null
  stats(instance: string): StatsStore | undefined
  note(kind: 'session' | 'transaction', note: SessionOutcome): void
}

/** A listener's slots for every worker, with the limits the last admission brought. */
interface SharedSlots {
  slots: ConnectionSlots
  limits: SlotLimits
}

/**
 * The primary's side of the workers' calls: rate-limit counters and penalty boxes on its
 * memory backend, connection slots and tarpit sockets counted per host, statistics and alert
 * notes. What a worker holds (slots, tarpit sockets) is given back when it exits, so a worker
 * that died frees its places.
 */
export class StateServer {
  readonly #host: StateHost
  readonly #log: Logger
  readonly #slots = new Map<string, SharedSlots>()
  /** Per worker: the slots it holds (`scope\nid`) and its tarpit sockets per instance. */
  readonly #held = new Map<number, { slots: Set<string>; tarpit: Map<string, number> }>()
  readonly #tarpit = new Map<string, number>()

  constructor(host: StateHost, log: Logger) {
    this.#host = host
    this.#log = log
  }

  /** Runs a batch of calls of `worker`, in order; resolves with the answers of those that want one. */
  async run(worker: number, calls: readonly Call[]): Promise<Answer[]> {
    const answers: Answer[] = []
    let waits: Promise<void>[] | null = null
    for (const call of calls) {
      let value: unknown
      try {
        value = this.#op(worker, call)
      } catch (err) {
        if (call.id) answers.push({ id: call.id, error: (err as Error).message })
        else this.#log.warn({ err, op: call.op }, 'a worker notice failed')
        continue
      }
      if (value instanceof Promise) {
        const id = call.id
        const settled = value.then(
          (v: unknown) => void (id && answers.push({ id, value: v ?? null })),
          (err: unknown) => void (id ? answers.push({ id, error: (err as Error).message }) : this.#log.warn({ err, op: call.op }, 'a worker notice failed')),
        )
        ;(waits ??= []).push(settled)
      } else if (call.id) {
        answers.push({ id: call.id, value: value ?? null })
      }
    }
    if (waits) await Promise.all(waits)
    return answers
  }

  /** A worker exited: its connections are gone, and so are its tarpitted sockets. */
  forget(worker: number): void {
    const held = this.#held.get(worker)
    if (!held) return
    this.#held.delete(worker)
    for (const key of held.slots) {
      const [scope, id] = key.split('\n') as [string, string]
      this.#slots.get(scope)?.slots.release(id)
    }
    for (const [instance, n] of held.tarpit) this.#tarpit.set(instance, (this.#tarpit.get(instance) ?? n) - n)
  }

  #op(worker: number, { op, args }: Call): unknown {
    switch (op) {
      case 'rl.upsert': {
        const [key, points, ms, force] = args as [string, number, number, boolean]
        return upsertCounter(this.#memory().cache, key, points, ms, force)
      }
      case 'rl.get':
        return readCounter(this.#memory().cache, args[0] as string)
      case 'rl.delete':
        return this.#memory().cache.delete(args[0] as string)
      case 'pb.put':
      case 'pb.find':
      case 'pb.remove':
      case 'pb.list':
      case 'pb.size': {
        const [instance, max, arg] = args as [string, number, unknown]
        const store = this.#memory().penaltyStore(instance, max)
        if (op === 'pb.put') return store.put(arg as PenaltyEntry)
        if (op === 'pb.find') return store.find(arg as string[])
        if (op === 'pb.remove') return store.remove(arg as string)
        return op === 'pb.list' ? store.list() : store.size()
      }
      case 'kl.record':
      case 'kl.lookup': {
        const [instance, user, address, bounds] = args as [string, string, string, KnownLoginBounds]
        const logins = this.#memory().knownLogins(instance)
        return op === 'kl.record' ? logins.record(user, address, bounds) : logins.lookup(user, address, bounds)
      }
      case 'slots.admit': {
        const [scope, id, address, customer, limits] = args as [string, string, string | null, boolean, SlotLimits]
        let shared = this.#slots.get(scope)
        if (!shared) {
          const created: SharedSlots = { limits, slots: new ConnectionSlots(() => created.limits) }
          this.#slots.set(scope, (shared = created))
        }
        shared.limits = limits
        const held = shared.slots.admit(`${worker}:${id}`, address, customer)
        if (typeof held !== 'string') this.#holdings(worker).slots.add(`${scope}\n${worker}:${id}`)
        return held
      }
      case 'slots.authenticated':
        return this.#slots.get(args[0] as string)?.slots.authenticated(`${worker}:${args[1] as string}`)
      case 'slots.release': {
        const [scope, id] = args as [string, string]
        this.#slots.get(scope)?.slots.release(`${worker}:${id}`)
        return this.#held.get(worker)?.slots.delete(`${scope}\n${worker}:${id}`)
      }
      case 'tarpit.take': {
        const [instance, max] = args as [string, number]
        const active = this.#tarpit.get(instance) ?? 0
        if (active >= max) return false
        this.#tarpit.set(instance, active + 1)
        const mine = this.#holdings(worker).tarpit
        mine.set(instance, (mine.get(instance) ?? 0) + 1)
        return true
      }
      case 'tarpit.give': {
        const instance = args[0] as string
        const mine = this.#held.get(worker)?.tarpit
        const n = mine?.get(instance) ?? 0
        if (!mine || n <= 0) return undefined
        mine.set(instance, n - 1)
        this.#tarpit.set(instance, (this.#tarpit.get(instance) ?? 1) - 1)
        return undefined
      }
      case 'stats.observe': {
        const [instance, keys, o] = args as [string, ClientKey[], Observation]
        return this.#host.stats(instance)?.observe(keys, o)
      }
      case 'stats.top':
        return this.#statsOf(args[0] as string).top(args[1] as TopQuery, args[2] as number | undefined)
      case 'stats.show':
        return this.#statsOf(args[0] as string).show(args[1] as ClientKey, args[2] as number | undefined)
      case 'alert.note':
        return this.#host.note(args[0] as 'session' | 'transaction', args[1] as SessionOutcome)
      default:
        throw new Error(`unknown operation ${op}`)
    }
  }

  #memory(): MemoryBackend {
    const backend = this.#host.backend()
    if (!(backend instanceof MemoryBackend)) throw new Error('the primary holds no memory state')
    return backend
  }

  #statsOf(instance: string): StatsStore {
    const store = this.#host.stats(instance)
    if (!store) throw new Error(`no statistics for ${instance}`)
    return store
  }

  #holdings(worker: number): { slots: Set<string>; tarpit: Map<string, number> } {
    let held = this.#held.get(worker)
    if (!held) this.#held.set(worker, (held = { slots: new Set(), tarpit: new Map() }))
    return held
  }
}
