import type { PenaltyEntry } from '../limits/penalty-store.js'
import { oneLine } from '../limits/one-line.js'
import { penaltyScope } from '../limits/schema.js'
import type { AdminApi } from './admin-client.js'
import { ADMIN_OPTIONS, adminApi, adminCall } from './admin-client.js'
import type { Command } from './args.js'
import { UsageError, instanceName, operatorName, parse } from './args.js'
import { isoTime } from './iso-time.js'

/** `smarthost-guard penalty list|add|remove`: manages the penalty box of a running relay through its admin API. */
export const penalty: Command = {
  name: 'penalty',
  summary: 'list, add or remove clients in the penalty box of a running relay',
  usage: `Usage: smarthost-guard penalty list [options]
       smarthost-guard penalty add (--address A | --subnet S | --user U) --reason TEXT [--duration D] [options]
       smarthost-guard penalty remove (--address A | --subnet S | --user U) [options]

Talks to the admin API of a running relay (the admin address and the bearer token file of the
policy, admin.token_file, which serve creates at first start), so it works the same with the
memory and the Redis backend; with Redis every node sharing it sees the change. Times are
ISO 8601 (UTC). A client in the box gets the policy's
penalty_box.reply (421/454 4.7.1, or 554 5.7.1) with the reason, until its time is up.

Options:
  -c, --config FILE      policy tree: where the admin API listens and its token (default: $SMARTHOST_GUARD_CONFIG or the embedded policies/relay.yaml)
  -i, --instance NAME    outbound or inbound (default outbound)
      --url URL          admin API base URL instead of the policy's, e.g. http://10.0.0.5:9465
      --token-file FILE  bearer token file instead of the policy's admin.token_file
      --address A        one client address
      --subnet S         a /24 (IPv4) or /64 (IPv6) subnet, or an address in it
      --user U           an SMTP AUTH user name
  -r, --reason TEXT      why (sent to the client with the refusal)
  -d, --duration D       how long, e.g. 30m, 2h, 7d (default: penalty_box.default_duration)
      --by NAME          who puts the client in the box (default: $SUDO_USER, else your login name)
      --json             print JSON instead of a table (list)
`,
  async run(argv) {
    const { values, positionals } = parse(
      argv,
      {
        ...ADMIN_OPTIONS,
        address: { type: 'string' },
        subnet: { type: 'string' },
        user: { type: 'string' },
        reason: { type: 'string', short: 'r' },
        duration: { type: 'string', short: 'd' },
        by: { type: 'string' },
        json: { type: 'boolean' },
      },
      true,
    )
    const [action, ...extra] = positionals
    if (!action || !['list', 'add', 'remove'].includes(action) || extra.length) throw new UsageError('say list, add or remove')
    const instance = instanceName(values.instance)
    const api = await adminApi(values, instance, 'penalty')
    if (!api) return 1
    if (action === 'list') return list(api, instance, values.json === true)
    const target = targetOf(values)
    if (action === 'remove') {
      const q = new URLSearchParams({ scope: target.scope, value: target.value, instance })
      const r = await adminCall(api, 'DELETE', `/api/penalty?${q.toString()}`)
      if (!r.ok) return fail(r.body)
      process.stdout.write(`removed ${target.scope} ${target.value} from the penalty box\n`)
      return 0
    }
    if (!values.reason) throw new UsageError('add needs --reason: it is sent to the client')
    const body = {
      instance,
      scope: target.scope,
      value: target.value,
      why: values.reason,
      who: values.by ?? operatorName(),
      ...(values.duration ? { duration: values.duration } : {}),
    }
    const r = await adminCall(api, 'POST', '/api/penalty', body)
    if (!r.ok) return fail(r.body)
    const entry = (r.body as { entry: PenaltyEntry }).entry
    process.stdout.write(`added ${line(entry)}\n`)
    return 0
  },
}

async function list(api: AdminApi, instance: string, asJson: boolean): Promise<number> {
  const r = await adminCall(api, 'GET', `/api/penalty?instance=${encodeURIComponent(instance)}`)
  if (!r.ok) return fail(r.body)
  const entries = (r.body as { entries: PenaltyEntry[] }).entries
  if (asJson) process.stdout.write(`${JSON.stringify(entries.map((e) => ({ ...e, when: isoTime(e.when), until: isoTime(e.until) })), null, 2)}\n`)
  else process.stdout.write(entries.length ? `${entries.map(line).join('\n')}\n` : 'the penalty box is empty\n')
  return 0
}

function targetOf(values: { address?: string | undefined; subnet?: string | undefined; user?: string | undefined }) {
  const given = penaltyScope.options.filter((k) => values[k] !== undefined)
  const scope = given[0]
  if (given.length !== 1 || !scope) throw new UsageError('give exactly one of --address, --subnet and --user')
  return { scope, value: values[scope] as string }
}

function fail(body: unknown): number {
  const error = (body as { error?: string } | null)?.error ?? JSON.stringify(body)
  process.stderr.write(`smarthost-guard penalty: ${error}\n`)
  return 1
}

/** "address 192.0.2.7 until 2025-06-01T12:00:00Z (by alice, 2025-06-01T11:00:00Z): spam run" */
function line(e: PenaltyEntry): string {
  return oneLine(`${e.scope} ${e.value} until ${isoTime(e.until)} (by ${e.who}, ${isoTime(e.when)}): ${e.why}`)
}


