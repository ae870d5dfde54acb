import type { RateLimiterAbstract, RateLimiterRes } from 'rate-limiter-flexible'
import type { LimiterOptions, StateBackend } from '../limits/backend.js'
import { limiterRes, RateLimiterStoreAbstract } from '../limits/lru-limiter.js'
import type { Upserted } from '../limits/lru-limiter.js'
import type { KnownLogin, KnownLoginBounds, KnownLogins } from '../limits/known-logins.js'
import type { PenaltyEntry, PenaltyStore } from '../limits/penalty-store.js'
import type { PrimaryLink } from './primary-link.js'

const seconds = (ms: number) => Math.round(ms / 1000)

/**
 * A rate-limiter-flexible store limiter whose counters are the primary's memory counters: the
 * same fixed windows as RateLimiterLru, counted once for every worker, so a client gets its
 * limit once however many workers its connections land on.
 */
class IpcLimiter extends RateLimiterStoreAbstract {
  readonly #link: PrimaryLink

  constructor(opts: ConstructorParameters<typeof RateLimiterStoreAbstract>[0] & { storeClient: PrimaryLink }) {
    super(opts)
    this.#link = opts.storeClient as PrimaryLink
  }

  _upsert(rlKey: string, points: number, msDuration: number, forceExpire = false): Promise<Upserted> {
    return this.#link.call('rl.upsert', [rlKey, points, msDuration, forceExpire])
  }

  _get(rlKey: string): Promise<Upserted | null> {
    return this.#link.call('rl.get', [rlKey])
  }

  _delete(rlKey: string): Promise<boolean> {
    return this.#link.call('rl.delete', [rlKey])
  }

  _getRateLimiterRes(_rlKey: string, changedPoints: number, result: Upserted): RateLimiterRes {
    return limiterRes(this.points, changedPoints, result)
  }
}

/** A penalty box store that is the primary's: an entry made on any worker (or the admin API) holds on all. */
class IpcPenaltyStore implements PenaltyStore {
  readonly #link: PrimaryLink
  readonly #where: readonly [string, number]

  constructor(link: PrimaryLink, instance: string, maxEntries: number) {
    this.#link = link
    this.#where = [instance, maxEntries]
  }

  put(entry: PenaltyEntry): Promise<void> {
    return this.#link.call('pb.put', [...this.#where, entry])
  }

  find(keys: readonly string[]): Promise<PenaltyEntry | null> {
    return this.#link.call('pb.find', [...this.#where, keys])
  }

  remove(key: string): Promise<boolean> {
    return this.#link.call('pb.remove', [...this.#where, key])
  }

  list(): Promise<PenaltyEntry[]> {
    return this.#link.call('pb.list', this.#where)
  }

  size(): Promise<number> {
    return this.#link.call('pb.size', this.#where)
  }
}

/** The primary's known logins: a login on any worker makes the address known to all. */
class IpcKnownLogins implements KnownLogins {
  readonly #link: PrimaryLink
  readonly #instance: string

  constructor(link: PrimaryLink, instance: string) {
    this.#link = link
    this.#instance = instance
  }

  record(user: string, address: string, bounds: KnownLoginBounds): Promise<void> {
    return this.#link.call('kl.record', [this.#instance, user, address, bounds])
  }

  lookup(user: string, address: string, bounds: KnownLoginBounds): Promise<KnownLogin> {
    return this.#link.call('kl.lookup', [this.#instance, user, address, bounds])
  }
}

/**
 * The memory backend as a worker of `serve --workers N` sees it: the counters and penalty
 * boxes live in the primary process (one MemoryBackend), and every operation is a call over
 * the IPC channel, batched per turn of the event loop. It answers as the memory backend does
 * (kind `memory`); a primary that does not answer is a fault (4xx, RELAY_ERR_STATE_UNAVAILABLE).
 */
export class IpcBackend implements StateBackend {
  readonly kind = 'memory'
  readonly onFailure = 'tempfail'
  readonly link: PrimaryLink
  readonly #boxes = new Map<string, IpcPenaltyStore>()
  readonly #logins = new Map<string, IpcKnownLogins>()

  constructor(link: PrimaryLink) {
    this.link = link
  }

  limiter(opts: LimiterOptions): RateLimiterAbstract {
    return new IpcLimiter({ storeClient: this.link, keyPrefix: `${opts.instance}:${opts.prefix}`, points: opts.points, duration: seconds(opts.windowMs) })
  }

  penaltyStore(instance: string, maxEntries: number): PenaltyStore {
    let box = this.#boxes.get(instance)
    if (!box) this.#boxes.set(instance, (box = new IpcPenaltyStore(this.link, instance, maxEntries)))
    return box
  }

  knownLogins(instance: string): KnownLogins {
    let logins = this.#logins.get(instance)
    if (!logins) this.#logins.set(instance, (logins = new IpcKnownLogins(this.link, instance)))
    return logins
  }

  close(): Promise<void> {
    return Promise.resolve()
  }
}
