import type { Slot, SlotLedger, SlotLimits, SlotRefusal } from '../limits/connection-slots.js'
import type { TarpitBudget } from '../limits/tarpit.js'
import type { HostCounts } from '../smtp/instance.js'
import type { PrimaryLink } from './primary-link.js'

/**
 * A worker's connection slots and tarpit budget, counted by the primary for every worker: the
 * listener's total, the outsiders' share, the per-address cap and the tarpit's sockets hold for
 * the host, not per worker. One call per accepted connection; closes are notices.
 */
export class IpcCounts implements HostCounts {
  readonly #link: PrimaryLink

  constructor(link: PrimaryLink) {
    this.#link = link
  }

  slots(instance: string, listener: string, limits: () => SlotLimits): SlotLedger {
    const link = this.#link
    const scope = `${instance}/${listener}`
    return {
      // The limits go along: the worker's policy snapshot is the one in force for this connection.
      admit: (id, address, customer) => link.call<SlotRefusal | Slot>('slots.admit', [scope, id, address, customer, limits()]),
      authenticated: (id) => link.notify('slots.authenticated', [scope, id]),
      release: (id) => link.notify('slots.release', [scope, id]),
    }
  }

  tarpit(instance: string): TarpitBudget {
    const link = this.#link
    return {
      take: (max) => link.call<boolean>('tarpit.take', [instance, max]),
      give: () => link.notify('tarpit.give', [instance]),
    }
  }
}
