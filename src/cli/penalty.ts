import { readFile } from 'node:fs/promises'
import { secretLine, secretOf } from '../config/load.js'
import type { InstanceName } from '../config/schema.js'
import type { PenaltyEntry } from '../limits/penalty-store.js'
import { penaltyScope } from '../limits/schema.js'
import type { Command } from './args.js'
import { UsageError, instanceName, loadPolicyOrReport, operatorName, parse } from './args.js'
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
        config: { type: 'string', short: 'c' },
        instance: { type: 'string', short: 'i', default: 'outbound' },
        url: { type: 'string' },
        'token-file': { type: 'string' },
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
    const api = await apiOf(values, instance)
    if (!api) return 1
    if (action === 'list') return list(api, instance, values.json === true)
    const target = targetOf(values)
    if (action === 'remove') {
      const q = new URLSearchParams({ scope: target.scope, value: target.value, instance })
      const r = await call(api, 'DELETE', `/api/penalty?${q.toString()}`)
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
    const r = await call(api, 'POST', '/api/penalty', body)
    if (!r.ok) return fail(r.body)
    const entry = (r.body as { entry: PenaltyEntry }).entry
    process.stdout.write(`added ${line(entry)}\n`)
    return 0
  },
}

interface Api {
  /** Where the admin API may listen, tried in order: a relay serving one instance uses that instance's admin listener. */
  bases: string[]
  token: string
}

interface ApiValues {
  config?: string | undefined
  url?: string | undefined
  'token-file'?: string | undefined
}

/** The API's base URL and token: from the options, else from the policy tree. */
async function apiOf(values: ApiValues, instance: InstanceName): Promise<Api | null> {
  const tokenFile = values['token-file']
  let token = tokenFile ? secretLine(await readFile(tokenFile, 'utf8')) : undefined
  if (tokenFile && !token) throw new UsageError(`no token in ${tokenFile}`)
  let bases = values.url ? [values.url] : []
  if (!bases.length || !token) {
    const loaded = await loadPolicyOrReport(values.config)
    if (!loaded) return null
    const url = (a: { address: string; port: number }) => `http://${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}`
    const own = loaded.policy.instances[instance]?.admin
    if (!bases.length) bases = [...new Set([...(own ? [url(own)] : []), url(loaded.policy.admin)])]
    const file = loaded.policy.admin.token_file
    if (!token && !file) throw new UsageError(`${loaded.file} names no admin.token_file: name one (the relay creates it at start), or give --token-file`)
    if (!token && file && !loaded.files.has(file)) {
      process.stderr.write(`smarthost-guard penalty: no token file ${file} yet: the relay creates it at its first start (smarthost-guard serve)\n`)
      return null
    }
    token ??= secretOf(loaded.files, file)
    if (!token) throw new UsageError(`no token in ${file}`)
  }
  return { bases: bases.map((b) => b.replace(/\/$/, '')), token }
}

async function list(api: Api, instance: string, asJson: boolean): Promise<number> {
  const r = await call(api, 'GET', `/api/penalty?instance=${encodeURIComponent(instance)}`)
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

async function call(api: Api, method: string, path: string, body?: unknown): Promise<{ ok: boolean; body: unknown }> {
  let res: Response | undefined
  const unreachable: string[] = []
  for (const base of api.bases) {
    try {
      res = await fetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${api.token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      })
      break
    } catch (err) {
      // Nothing listens there (fetch fails before anything was sent): try the next address.
      unreachable.push(`${base} (${connectError(err)})`)
    }
  }
  if (!res) return { ok: false, body: { error: `cannot reach the relay's admin API at ${unreachable.join(' or ')}: is the relay running?` } }
  const text = await res.text()
  let parsed: unknown = text
  try {
    parsed = JSON.parse(text)
  } catch {
    // not JSON: shown as it is
  }
  return { ok: res.ok, body: parsed }
}

function fail(body: unknown): number {
  const error = (body as { error?: string } | null)?.error ?? JSON.stringify(body)
  process.stderr.write(`smarthost-guard penalty: ${error}\n`)
  return 1
}

/** Why fetch failed: its cause's code (ECONNREFUSED), else its message. */
function connectError(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause
  return cause?.code ?? cause?.message ?? (err as Error).message
}

/** "address 192.0.2.7 until 2025-06-01T12:00:00Z (by alice, 2025-06-01T11:00:00Z): spam run" */
function line(e: PenaltyEntry): string {
  return `${e.scope} ${e.value} until ${isoTime(e.until)} (by ${e.who}, ${isoTime(e.when)}): ${e.why}`
}


