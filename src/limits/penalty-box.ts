import { isIP } from 'node:net'
import type { Logger } from 'pino'
import { parseCidr } from '../config/units.js'
import { penaltyBoxAdditions, reportPenaltyBoxSize } from '../metrics/limit-metrics.js'
import { canonicalAddress, subnetOf } from './dimensions.js'
import type { PenaltyEntry, PenaltyStore } from './penalty-store.js'
import { entryKey } from './penalty-store.js'
import { hasControl, oneLine } from './one-line.js'
import type { PenaltyScope } from './schema.js'

/** What an operator, a rule or the alerting gives to put a client in the box. */
export interface PenaltyRequest {
  scope: PenaltyScope
  /** An address; for `subnet`, an address or the /24 (/64) block around it; for `user`, the user name. */
  value: string
  /** Who: an operator's name, `rule:<name>`, `alert:<rule>`. */
  who: string
  why: string
  /** Time in the box; the policy's default_duration when absent. */
  durationMs?: number
}

/** Longest time in the box: a year; longer is a typo (and beyond a date, every reply would fail). */
export const MAX_PENALTY_MS = 365 * 24 * 3600 * 1000
/** Longest reason: it goes into one SMTP reply line with the address, the time and the URL. */
export const MAX_WHY = 200
/** Longest author name. */
export const MAX_WHO = 64
/** Longest user name (the value of a `user` entry). */
const MAX_USER = 256

/** A request the box cannot take (bad address, empty reason): a 400 for the API, a usage error for the CLI. */
export class PenaltyRequestError extends Error {}

/**
 * The penalty box of one instance: clients (address, /24 or /64 subnet, user) refused with
 * the reason until their time is up. Entries live in the state backend (memory, or Redis
 * shared by every node and kept across restarts).
 *
 * @example await box.add({ scope: 'address', value: '192.0.2.7', who: 'alert:spam-wave', why: '1,200 messages in 5 minutes' })
 */
export class PenaltyBox {
  readonly instance: string
  readonly #store: PenaltyStore
  readonly #defaultMs: number
  readonly #log: Logger

  constructor(store: PenaltyStore, opts: { instance: string; defaultDurationMs: number; log: Logger }) {
    this.instance = opts.instance
    this.#store = store
    this.#defaultMs = opts.defaultDurationMs
    this.#log = opts.log
    reportPenaltyBoxSize(opts.instance, () => store.size())
  }

  /** Puts a client in the box (replacing an entry for the same client) and returns the entry. */
  async add(request: PenaltyRequest): Promise<PenaltyEntry> {
    const value = normalizeValue(request.scope, request.value)
    // The reason is sent to the client and both are printed by `penalty list`: one line each.
    const why = oneLine(request.why)
    const who = oneLine(request.who)
    if (!why) throw new PenaltyRequestError('give a reason: it is sent to the client')
    if (why.length > MAX_WHY) throw new PenaltyRequestError(`the reason is ${why.length} characters long; at most ${MAX_WHY} fit in the reply`)
    if (!who) throw new PenaltyRequestError('say who puts the client in the box')
    if (who.length > MAX_WHO) throw new PenaltyRequestError(`the name of who puts the client in the box is longer than ${MAX_WHO} characters`)
    const ms = request.durationMs ?? this.#defaultMs
    if (!(ms > 0)) throw new PenaltyRequestError('the duration must be positive')
    if (ms > MAX_PENALTY_MS) throw new PenaltyRequestError('the duration must be at most 365d')
    const when = Date.now()
    const entry: PenaltyEntry = { scope: request.scope, value, who, why, when, until: when + ms }
    await this.#store.put(entry)
    penaltyBoxAdditions.labels(this.instance, who.startsWith('rule:') ? 'rule' : 'operator').inc()
    this.#log.warn({ penalty: entry }, 'client put in the penalty box')
    return entry
  }

  /** Lets a client out; false when it was not in the box. */
  async remove(scope: PenaltyScope, value: string): Promise<boolean> {
    const removed = await this.#store.remove(entryKey(scope, normalizeValue(scope, value)))
    if (removed) this.#log.info({ scope, value }, 'client let out of the penalty box')
    return removed
  }

  /** Every active entry, the soonest to end first. */
  async list(): Promise<PenaltyEntry[]> {
    return (await this.#store.list()).sort((a, b) => a.until - b.until)
  }

  /** The entry that holds this client (its address, its subnet, or its user), if any. */
  async find(client: { address?: string; user?: string | null }): Promise<PenaltyEntry | null> {
    const keys: string[] = []
    const address = client.address ? canonicalAddress(client.address) : null
    if (address) keys.push(entryKey('address', address))
    const subnet = address ? subnetOf(address) : null
    if (subnet) keys.push(entryKey('subnet', subnet))
    if (client.user) keys.push(entryKey('user', client.user))
    return keys.length ? this.#store.find(keys) : null
  }
}

function normalizeValue(scope: PenaltyScope, value: string): string {
  const v = value.trim()
  if (scope === 'user') {
    if (!v || v.length > MAX_USER || /\s/.test(v) || hasControl(v)) throw new PenaltyRequestError(`not a user name: ${JSON.stringify(value.slice(0, MAX_USER))}`)
    return v
  }
  // Addresses and subnets are short; a long value is not one (and is not echoed in full).
  if (v.length > 64) throw new PenaltyRequestError(`not an IP address or subnet: ${JSON.stringify(v.slice(0, 64))}…`)
  if (scope === 'address') {
    const a = canonicalAddress(v)
    if (!a) throw new PenaltyRequestError(`not an IP address: ${JSON.stringify(value)}`)
    return a
  }
  // A subnet is given as an address in it or as the block itself; other prefix lengths
  // cannot be looked up per connection (use connect.client_access rules for wider ranges).
  const block = parseCidr(v)
  const inside = block ? block.address : isIP(v) ? v : null
  const subnet = inside ? subnetOf(inside) : null
  if (!subnet || (block && v.includes('/') && `/${block.prefix}` !== subnet.slice(subnet.indexOf('/')))) {
    throw new PenaltyRequestError(`not a /24 (IPv4) or /64 (IPv6) subnet or an address in one: ${JSON.stringify(value)}`)
  }
  return subnet
}
