import type { LoadedPolicy } from '../config/load.js'
import type { InstanceName } from '../config/schema.js'
import { createLogger } from '../log/logger.js'
import type { StoredEntry } from '../quarantine/store.js'
import { splitAddress } from '../relay/address.js'
import { countBareLineEndings } from '../relay/message.js'
import { parseHeader } from '../scan/header-fields.js'
import { ScanPools } from '../scan/scan-pools.js'
import { printable, renderTree } from '../scan/tree.js'
import { isoTime } from './iso-time.js'

/** The header fields a postmaster looks at first, in this order. */
const SUMMARY_FIELDS = ['From', 'Sender', 'Reply-To', 'To', 'Cc', 'Subject', 'Date', 'Message-ID'] as const

/**
 * `quarantine show`: a kept message as a postmaster reads it — when, who sent it from where,
 * to whom, what was decided and why, the header summary and the explosion tree (the message
 * scanned again with the instance's current rules). Every line goes through `printable`: a
 * kept message may carry terminal escape sequences.
 */
export async function quarantineView(entry: StoredEntry, kept: Buffer | null, loaded: LoadedPolicy, name: InstanceName): Promise<string> {
  const client = `${entry.client.address}${entry.client.ptr ? ` (${entry.client.ptr})` : ' (no PTR)'}`
  const out = [
    `id:          ${entry.id}`,
    `time:        ${isoTime(entry.when)}`,
    `instance:    ${entry.instance}`,
    `client:      ${client}${entry.user ? `, user ${entry.user}` : ''}`,
    `sender:      <${entry.sender}>`,
    `recipients:  ${entry.recipients.map((r) => `<${r}>`).join(', ')}`,
    `size:        ${entry.size} bytes`,
    `decision:    ${entry.kind === 'held' ? 'held for review' : 'refused, kept as evidence'} (${entry.reason})`,
    `reply:       ${entry.reply}`,
    `rule hits:   ${entry.hits.join(', ') || 'none'}`,
    `flags:       ${entry.flags.join(', ') || 'none'}`,
    ...(entry.releases.length
      ? entry.releases.map((r, i) => `${i ? '             ' : 'releases:    '}${isoTime(r.when)} by ${r.by}: ${r.delivered ? '' : 'not delivered: '}${r.reply}`)
      : ['releases:    none']),
    '',
  ]
  if (!kept) {
    out.push('(the message file was removed by the quarantine size limit; the record above remains)')
    return `${out.map((l) => printable(l)).join('\n')}\n`
  }
  const header = parseHeader(kept)
  out.push('header:')
  for (const field of SUMMARY_FIELDS) {
    const value = field === 'Subject' ? header.decoded(field) : header.values(field).join(', ')
    if (value) out.push(`  ${field}: ${value}`)
  }
  const hops = header.values('received').length
  out.push(`  (${hops} Received: field${hops === 1 ? '' : 's'}; the whole message: smarthost-guard quarantine show --raw ${entry.id})`, '')
  out.push('explosion tree (scanned again with the current rules):', ...(await treeOf(kept, entry, loaded, name)).map((l) => `  ${l}`))
  return `${out.map((l) => printable(l)).join('\n')}\n`
}

async function treeOf(raw: Buffer, entry: StoredEntry, loaded: LoadedPolicy, name: InstanceName): Promise<string[]> {
  const config = loaded.policy.instances[name]
  const pools = new ScanPools(createLogger('silent'))
  try {
    const scanner = pools.scannerFor(loaded, name, false)
    if (!config || !scanner) return ['(this instance does not scan content: no data.content_scan check)']
    const message = { raw, size: raw.length, overLimit: false, ...countBareLineEndings(raw) }
    const externals = { client_class: 'unknown', sender_domain: splitAddress(entry.sender).domain }
    const report = await scanner.scan(message, externals, Date.now() + config.scan.limits.time)
    return [...renderTree(report), ...(report.complete ? [] : ['(stopped by a scan limit)'])]
  } catch (err) {
    return [`(cannot scan it: ${(err as Error).message})`]
  } finally {
    await pools.close()
  }
}
