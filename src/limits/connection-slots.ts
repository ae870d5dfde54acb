// A listener's connections, counted from accept in two shares (Postfix keeps no such reserve;
// its per-client limits only slow one flooder, not many): customers (clients in
// relay.networks, and clients once they authenticated) may use every connection, everyone else
// only the part not reserved for customers, and each outsider address only so many at once.
// Counted in this process, because the sockets are (with `serve --workers N`, in the primary for
// every worker: see SlotLedger): connect.concurrency counts across nodes.

/** The numbers a listener's policy gives. */
export interface SlotLimits {
  /** Connections at once. */
  readonly total: number
  /** Of those, the ones only customers may use. */
  readonly reserved: number
  /** Connections at once from one outsider address; null: no limit. */
  readonly perAddress: number | null
}

/** Why a connection was refused: every connection is used, the outsiders' share is, or this address's. */
export type SlotRefusal = 'listener_full' | 'outsiders_full' | 'address_full'

/** One admitted connection. */
export interface Slot {
  readonly customer: boolean
}

type Held = { customer: boolean; address: string | null }

/**
 * Where a listener's connections are counted: ConnectionSlots in this process, or the
 * primary's for every worker of `serve --workers N` (an admission then waits for its answer).
 */
export interface SlotLedger {
  admit(id: string, address: string | null, customer: boolean): SlotRefusal | Slot | Promise<SlotRefusal | Slot>
  authenticated(id: string): void
  release(id: string): void
}

/** Counts a listener's open connections by share and outsider address. */
export class ConnectionSlots implements SlotLedger {
  readonly #limits: () => SlotLimits
  readonly #byId = new Map<string, Held>()
  readonly #perAddress = new Map<string, number>()
  #outsiders = 0

  constructor(limits: () => SlotLimits) {
    this.#limits = limits
  }

  /** Connections held now. */
  get size(): number {
    return this.#byId.size
  }

  /** Outsider connections held now. */
  get outsiders(): number {
    return this.#outsiders
  }

  /**
   * Takes a connection for `id`, or says why not. `address` null is a connection whose client is
   * not known yet (a load balancer's PROXY header to come, sent at once): it counts in the
   * total only, since it may be a customer's.
   */
  admit(id: string, address: string | null, customer: boolean): SlotRefusal | Slot {
    const { total, reserved, perAddress } = this.#limits()
    if (this.#byId.size >= total) return 'listener_full'
    if (address === null) {
      const pending: Held = { customer: true, address: null }
      this.#byId.set(id, pending)
      return pending
    }
    if (!customer) {
      if (this.#outsiders >= total - reserved) return 'outsiders_full'
      if (perAddress !== null && (this.#perAddress.get(address) ?? 0) >= perAddress) return 'address_full'
    }
    const held: Held = { customer, address: customer ? null : address }
    this.#byId.set(id, held)
    if (!customer) this.#takeOutsider(held.address)
    return held
  }

  /** The connection authenticated: it leaves the outsiders' share (and its address's count) for the customers'. */
  authenticated(id: string): void {
    const held = this.#byId.get(id)
    if (!held || held.customer) return
    this.#freeOutsider(held.address)
    held.customer = true
    held.address = null
  }

  /** The connection closed. */
  release(id: string): void {
    const held = this.#byId.get(id)
    if (!held) return
    this.#byId.delete(id)
    if (!held.customer) this.#freeOutsider(held.address)
  }

  #takeOutsider(address: string | null): void {
    this.#outsiders++
    if (address !== null) this.#perAddress.set(address, (this.#perAddress.get(address) ?? 0) + 1)
  }

  #freeOutsider(address: string | null): void {
    this.#outsiders--
    if (address === null) return
    const n = (this.#perAddress.get(address) ?? 1) - 1
    // Entries go with the last connection: the map holds only addresses connected now.
    if (n > 0) this.#perAddress.set(address, n)
    else this.#perAddress.delete(address)
  }
}
