import type { Logger } from 'pino'
import type { LoadedPolicy } from '../config/load.js'
import type { InstanceName } from '../config/schema.js'
import { hostname as systemHostname } from 'node:os'
import { NextHops } from '../relay/next-hops.js'
import { rfc5322Date } from '../relay/received.js'
import type { QuarantineStore, ReleaseRecord, StoredEntry } from './store.js'

// eslint-disable-next-line no-control-regex
const NON_ASCII = /[^\x00-\x7f]/

/**
 * Relays a kept message to the instance's next hops (nodemailer pool, failover, as the relay
 * does) with its original envelope, adds a header saying who released it, and records the
 * release in the index whatever the outcome.
 */
export async function releaseMessage(
  loaded: LoadedPolicy,
  name: InstanceName,
  store: QuarantineStore,
  entry: StoredEntry,
  by: string,
  log: Logger,
): Promise<ReleaseRecord> {
  const config = loaded.policy.instances[name]
  if (!config) throw new Error(`instance ${name} is not defined in ${loaded.file}`)
  const hostname = config.hostname ?? loaded.policy.hostname ?? systemHostname().toLowerCase()
  const original = await store.read(entry)
  const note = `X-Smarthost-Guard-Released: from quarantine by ${by.replace(/[^\x21-\x7e ]/g, '')} on ${rfc5322Date(new Date())} (id ${entry.id}, reason ${entry.reason})\r\n`
  const raw = Buffer.concat([Buffer.from(note, 'latin1'), original])
  const hops = new NextHops(config.next_hops, { hostname, instance: name, log, files: loaded.files })
  try {
    const result = await hops.deliver({
      id: entry.id,
      from: entry.sender,
      to: entry.recipients,
      raw,
      eightBit: raw.some((b) => b > 0x7f),
      smtputf8: [entry.sender, ...entry.recipients].some((a) => NON_ASCII.test(a)),
    })
    return await store.recordRelease(entry, { by, reply: result.reply.toString(), delivered: result.accepted })
  } finally {
    hops.close()
  }
}
