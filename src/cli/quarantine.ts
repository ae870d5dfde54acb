import { createLogger } from '../log/logger.js'
import { releaseMessage } from '../quarantine/release.js'
import { quarantineStore } from '../quarantine/store.js'
import { printable } from '../scan/tree.js'
import type { StoredEntry } from '../quarantine/store.js'
import type { Command } from './args.js'
import { UsageError, instanceName, loadPolicyOrReport, operatorName, parse } from './args.js'
import { isoTime } from './iso-time.js'
import { quarantineView } from './quarantine-view.js'

/** `smarthost-guard quarantine list|show|release`: the postmaster's view of kept messages. */
export const quarantine: Command = {
  name: 'quarantine',
  summary: 'list, show or release messages kept in the quarantine',
  usage: `Usage: smarthost-guard quarantine list [--reason R] [--sender ADDR] [--limit N] [--json]
       smarthost-guard quarantine show ID [--json | --raw]
       smarthost-guard quarantine release ID [--by NAME] [--force]
  common: [--config FILE] [--instance NAME]

list      one line per kept message, newest first: id, time, kind (held or refused), reason,
          client, sender, recipients, subject, releases (times in ISO 8601, UTC)
show      a kept message: time, client, sender, recipients, the decision and its reasons,
          its releases, a header summary and the explosion tree (the message scanned again
          with the current rules); --json: the record as JSON; --raw: the stored message
release   relays a kept message to the instance's next hops with its original envelope and
          records who released it (--by, default $SUDO_USER, else the login name); a message already
          released needs --force. Exit status 1 when the next hop refuses it.

Options:
  -c, --config FILE     policy tree (default: $SMARTHOST_GUARD_CONFIG or the embedded policies/relay.yaml)
  -i, --instance NAME   instance whose quarantine to use (default outbound)
  -j, --json            list, show: print the records as JSON
      --raw             show: print the stored message as it was kept
`,
  async run(argv) {
    const { values, positionals } = parse(
      argv,
      {
        config: { type: 'string', short: 'c' },
        instance: { type: 'string', short: 'i', default: 'outbound' },
        json: { type: 'boolean', short: 'j', default: false },
        reason: { type: 'string' },
        sender: { type: 'string' },
        limit: { type: 'string' },
        raw: { type: 'boolean', default: false },
        by: { type: 'string' },
        force: { type: 'boolean', default: false },
      },
      true,
    )
    const [action, id, ...extra] = positionals
    if (!action || !['list', 'show', 'release'].includes(action)) throw new UsageError('give list, show ID or release ID')
    if (action !== 'list' && !id) throw new UsageError(`quarantine ${action} needs a message id`)
    if (extra.length || (action === 'list' && id)) throw new UsageError('too many arguments')
    const name = instanceName(values.instance)
    const loaded = await loadPolicyOrReport(values.config, { instances: [name] })
    if (!loaded) return 1
    const q = loaded.policy.instances[name]?.quarantine
    if (!q) throw new UsageError(`instance ${name} of ${loaded.file} has no quarantine section`)
    const store = quarantineStore(q.dir, { maxSize: q.max_size, maxAgeMs: q.max_age })
    if (action === 'list') {
      let entries = await store.list()
      if (values.reason) entries = entries.filter((e) => e.reason === values.reason)
      if (values.sender) entries = entries.filter((e) => e.sender.toLowerCase() === values.sender?.toLowerCase())
      const limit = values.limit === undefined ? Infinity : Number(values.limit)
      if (!(limit > 0)) throw new UsageError(`--limit must be a positive number, got ${JSON.stringify(values.limit)}`)
      entries = entries.slice(0, limit)
      process.stdout.write(values.json ? `${JSON.stringify(entries, null, 2)}\n` : entries.map(line).join('') || 'the quarantine is empty\n')
      return 0
    }
    const entry = await store.find(id as string)
    if (!entry) {
      process.stderr.write(`smarthost-guard quarantine: no message ${id} in ${q.dir}\n`)
      return 1
    }
    if (action === 'show') {
      if (values.json && values.raw) throw new UsageError('give --json or --raw, not both')
      if (values.json) {
        process.stdout.write(`${JSON.stringify(entry, null, 2)}\n`)
        return 0
      }
      const kept = await store.read(entry).catch(() => null)
      if (values.raw) {
        if (!kept) {
          process.stderr.write(`smarthost-guard quarantine: the message file of ${entry.id} was removed by the quarantine size limit\n`)
          return 1
        }
        // Into a file or a pipe as kept; on a terminal, escape sequences in it are not run.
        process.stdout.write(process.stdout.isTTY ? printable(kept.toString('utf8'), { keepNewlines: true }) : kept)
        return 0
      }
      process.stdout.write(await quarantineView(entry, kept, loaded, name))
      return 0
    }
    if (entry.releases.some((r) => r.delivered) && !values.force) {
      process.stderr.write(`smarthost-guard quarantine: ${entry.id} was already released; add --force to send it again\n`)
      return 1
    }
    const by = values.by ?? operatorName()
    const record = await releaseMessage(loaded, name, store, entry, by, createLogger('silent'))
    process.stdout.write(`${entry.id}: ${record.delivered ? 'released' : 'not released'} by ${by}: ${record.reply}\n`)
    return record.delivered ? 0 : 1
  },
}


function line(e: StoredEntry): string {
  const released = e.releases.filter((r) => r.delivered).map((r) => ` released by ${r.by} ${isoTime(r.when)}`)
  return (
    `${e.id} ${isoTime(e.when)} ${e.kind} ${e.reason} client=${e.client.address} user=${e.user ?? '-'} from=<${e.sender}> ` +
    `to=${e.recipients.map((r) => `<${r}>`).join(',')} size=${e.size} subject=${JSON.stringify(e.subject ?? '')}` +
    `${e.hits.length ? ` hits=${e.hits.join(',')}` : ''}${released.join('')}\n`
  )
}
