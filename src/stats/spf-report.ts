import type { SpfRelayClient, StatsSource, StatsStore } from './store.js'
import type { WindowName } from './windows.js'

/** One sender domain whose SPF passes for its customers but fails for our egress. */
export interface SpfRelayRow {
  domain: string
  /** Messages flagged SPF_RELAY_NOT_AUTHORIZED in the window. */
  messages: number
  /** The clients that sent them over the last day, most first. */
  clients: SpfRelayClient[]
  /** When the domain last sent anything through the relay. */
  lastSeen: number
}

/** The report, and where its figures come from. */
export interface SpfRelayReport {
  window: WindowName
  rows: SpfRelayRow[]
  source: StatsSource
}

/**
 * The sender domains that need an `include:` of the relay in their SPF record: the keys with
 * the most SPF_RELAY_NOT_AUTHORIZED messages over `window`, each with the clients that sent them
 * (the customers to call). Read from the statistics, so with Redis it covers every node.
 */
export async function spfRelayReport(store: StatsStore, window: WindowName, limit: number, now = Date.now()): Promise<SpfRelayReport> {
  const top = await store.top({ by: 'sender_domain', window, sort: 'spf_relay_not_authorized', limit }, now)
  const rows = await Promise.all(
    top.rows.map(async (row): Promise<SpfRelayRow> => {
      const view = await store.show(row.key, now)
      return {
        domain: row.key.slice(row.key.indexOf(':') + 1),
        messages: row.counts.spf_relay_not_authorized,
        clients: view?.spfRelayClients ?? [],
        lastSeen: view?.lastSeen ?? now,
      }
    }),
  )
  return { window, rows, source: top.source }
}
