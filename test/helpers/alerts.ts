import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parsePolicy } from '../../src/config/load.js'
import type { LoadedPolicy } from '../../src/config/load.js'
import type { MemoryStatsStore } from '../../src/stats/memory-store.js'
import type { StatsStore } from '../../src/stats/store.js'

/** A policy tree with an `alerts` section (YAML text, indented under `alerts:`), in a directory of its own. */
export async function alertsPolicy(alertsYaml: string, dir?: string, topLevel = ''): Promise<LoadedPolicy & { dir: string }> {
  const d = dir ?? (await mkdtemp(join(tmpdir(), 'shg-alerts-')))
  const text = `${topLevel}
instances:
  outbound:
    listeners: [{ name: submission, address: 127.0.0.1, port: 0, tls: none }]
    next_hops: ["127.0.0.1:2525"]
alerts:
${alertsYaml.replace(/^/gm, '  ')}
`
  const file = join(d, 'relay.yaml')
  await writeFile(file, text)
  return { ...(await parsePolicy(file, text)), dir: d }
}

/** Writes a secret file into `dir` and returns its name. */
export async function secretFile(dir: string, name: string, secret: string): Promise<string> {
  await writeFile(join(dir, name), `${secret}\n`, { mode: 0o600 })
  return join(dir, name)
}

/** A spam run as the relay's statistics see it: `n` delivered messages with a subject and Message-ID, to many domains. */
export function observeSpam(store: StatsStore | MemoryStatsStore, address: string, n: number, at = Date.now(), subject = 'Cheap meds, 90% off'): void {
  for (let i = 0; i < n; i++) {
    const domains = [`victim${i % 40}.example`]
    store.observe([`address:${address}`], {
      at,
      counts: { transactions: 1, accepted: 1, recipients: 1 },
      recipientDomains: domains,
      sample: { at, id: `tx${i}`, outcome: 'delivered', from: `promo@${address.replace(/\./g, '-')}.example`, subject, messageId: `<spam${i}@bot.example>`, recipientDomains: domains },
    })
  }
}

/** Ordinary traffic: `n` messages to the same few domains. */
export function observeSteady(store: StatsStore | MemoryStatsStore, address: string, n: number, at = Date.now()): void {
  for (let i = 0; i < n; i++) {
    const domains = [`partner${i % 3}.example`]
    store.observe([`address:${address}`], { at, counts: { transactions: 1, accepted: 1, recipients: 1 }, recipientDomains: domains })
  }
}
