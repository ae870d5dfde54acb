import type { AddressInfo } from 'node:net'
import { isDeepStrictEqual } from 'node:util'
import type { Logger } from 'pino'
import type { InstancePolicy } from '../config/instance-policy.js'
import { secretOf } from '../config/load.js'
import type { ListenerConfig } from '../config/schema.js'
import type { Resolver } from '../dns/resolver.js'
import type { RelayEvents } from '../events/relay-events.js'
import { Tarpit } from '../limits/tarpit.js'
import type { TarpitBudget } from '../limits/tarpit.js'
import type { SlotLedger, SlotLimits } from '../limits/connection-slots.js'
import { NextHops } from '../relay/next-hops.js'
import { Listener } from './listener.js'
import { tlsMaterial } from './tls.js'

/** Where a listener ended up listening. */
export interface BoundListener {
  instance: string
  listener: string
  address: string
  port: number
  tls: ListenerConfig['tls']
}

/**
 * Counts an instance holds for its host, not per process: with `serve --workers N` the primary
 * keeps them for every worker (absent: this process counts its own).
 */
export interface HostCounts {
  slots(instance: string, listener: string, limits: () => SlotLimits): SlotLedger
  tarpit(instance: string): TarpitBudget
}

/** What decides whether a listener keeps its socket across a reload. */
const socketKey = (l: ListenerConfig) => JSON.stringify([l.name, l.address, l.port, l.tls, l.auth, l.proxy_from])

/**
 * One instance (outbound or inbound): its listeners, its next-hop pools and the current
 * policy snapshot. A reload swaps the snapshot for new sessions, rebuilds the next hops if
 * they changed, and opens, updates or drains listeners as the new tree says.
 */
export class Instance {
  readonly name: string
  readonly #log: Logger
  readonly #resolver: () => Resolver
  readonly #events: RelayEvents
  #policy: InstancePolicy
  #nextHops: NextHops
  #listeners = new Map<string, Listener>()
  readonly #tarpit: Tarpit
  readonly #counts: HostCounts | undefined

  constructor(policy: InstancePolicy, deps: { log: Logger; resolver: () => Resolver; events: RelayEvents; counts?: HostCounts }) {
    this.name = policy.name
    this.#policy = policy
    this.#log = deps.log.child({ instance: policy.name })
    this.#resolver = deps.resolver
    this.#events = deps.events
    this.#nextHops = this.#makeNextHops(policy)
    this.#counts = deps.counts
    this.#tarpit = new Tarpit(policy.name, deps.counts?.tarpit(policy.name))
  }

  get policy(): InstancePolicy {
    return this.#policy
  }

  async start(): Promise<BoundListener[]> {
    for (const config of this.#policy.config.listeners) await this.#open(config)
    return this.bound()
  }

  bound(): BoundListener[] {
    return [...this.#listeners.values()].flatMap((l) => {
      const a: AddressInfo | null = l.address
      return a ? [{ instance: this.name, listener: l.config.name, address: a.address, port: a.port, tls: l.config.tls }] : []
    })
  }

  /** Applies a new policy snapshot; live sessions keep the one they started with. */
  /**
   * Swaps in a reloaded policy; resolves with what could not be applied (a new listener that
   * could not bind), while everything else runs on the new policy.
   */
  async apply(policy: InstancePolicy, drainMs: number): Promise<string[]> {
    const previous = this.#policy
    this.#policy = policy
    // New pools when a hop, our name or a hop's password (a rotated password file) changed.
    const passwords = (p: InstancePolicy) => p.config.next_hops.map((h) => secretOf(p.files, h.auth?.password_file))
    if (
      !isDeepStrictEqual(previous.config.next_hops, policy.config.next_hops) ||
      previous.hostname !== policy.hostname ||
      !isDeepStrictEqual(passwords(previous), passwords(policy))
    ) {
      const old = this.#nextHops
      this.#nextHops = this.#makeNextHops(policy)
      // Messages in flight on the old pools finish; idle pooled connections close now.
      setTimeout(() => old.close(), drainMs).unref()
    }
    const wanted = new Map(policy.config.listeners.map((l) => [socketKey(l), l]))
    const retiring: Promise<void>[] = []
    for (const [key, listener] of this.#listeners) {
      if (wanted.has(key)) continue
      this.#listeners.delete(key)
      retiring.push(listener.drain(drainMs))
    }
    // The retired sockets stop listening at once (their sessions finish in the background);
    // one turn of the event loop lets their ports be bound again by the new listeners.
    await new Promise((resolve) => setImmediate(resolve))
    Promise.all(retiring).catch((err: unknown) => this.#log.error({ err }, 'draining a retired listener failed'))
    const failed: string[] = []
    for (const [key, config] of wanted) {
      const running = this.#listeners.get(key)
      try {
        if (running) running.update(config, policy, await tlsMaterial(config, policy.hostname, policy.files))
        else await this.#open(config)
      } catch (err) {
        failed.push(`listener ${config.name}: ${(err as Error).message}`)
      }
    }
    return failed
  }

  /** SIGTERM: stop accepting, let transactions in flight finish within the deadline. */
  async drain(deadlineMs: number): Promise<void> {
    await Promise.all([...this.#listeners.values()].map((l) => l.drain(deadlineMs)))
    this.#nextHops.close()
  }

  async #open(config: ListenerConfig): Promise<void> {
    const tls = await tlsMaterial(config, this.#policy.hostname, this.#policy.files)
    if (tls?.ephemeral) {
      this.#log.warn({ listener: config.name }, 'no certificate configured: using an ephemeral self-signed one')
    }
    const listener = new Listener(config, tls, {
      policy: () => this.#policy,
      nextHops: () => this.#nextHops,
      resolver: this.#resolver,
      log: this.#log.child({ listener: config.name }),
      tarpit: this.#tarpit,
      events: this.#events,
      ...(this.#counts ? { slots: (listener: string, limits: () => SlotLimits) => this.#counts!.slots(this.name, listener, limits) } : {}),
    })
    const address = await listener.listen()
    this.#listeners.set(socketKey(config), listener)
    this.#log.info({ listener: config.name, address: address.address, port: address.port, tls: config.tls }, 'listening')
  }

  #makeNextHops(policy: InstancePolicy): NextHops {
    return new NextHops(policy.config.next_hops, {
      hostname: policy.hostname,
      instance: policy.name,
      log: this.#log,
      files: policy.files,
    })
  }
}
