import { readFile } from 'node:fs/promises'
import { secretLine, secretOf } from '../config/load.js'
import type { InstanceName } from '../config/schema.js'
import type { PenaltyEntry } from '../limits/penalty-store.js'
import { oneLine } from '../limits/one-line.js'
import { penaltyScope } from '../limits/schema.js'
import type { Command } from './args.js'
import { UsageError, loadPolicyOrReport, operatorName, parse } from './args.js'

/** `smarthost-guard penalty list|add|remove`: manages the penalty box of a running relay through its admin API. */
export const penalty: Command = {
  name: 'penalty',
  summary: 'list, add or remove clients in the penalty box of a running relay',
  usage: `Usage: smarthost-guard penalty list [options]
       smarthost-guard penalty add (--address A | --subnet S | --user U) --reason TEXT [--duration D] [options]
       smarthost-guard penalty remove (--address A | --subnet S | --user U) [options]

Talks to the admin API of a running relay (the admin address and the bearer token file of the
policy, admin.token_file), so it works the same with the memory and the Redis backend; with
Redis every node sharing it sees the change. A client in the box gets the policy's
penalty_box.reply (421/454 4.7.1, or 554 5.7.1) with the reason, until its time is up.

Options:
  -c, --config FILE      policy tree: where the admin API listens and its token (default: $SMARTHOST_GUARD_CONFIG or the embedded policies/relay.yaml)
  -i, --instance NAME    outbound or inbound (default: the only instance the relay runs)
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
        instance: { type: 'string', short: 'i' },
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
    const api = await apiOf(values)
    if (!api) return 1
    if (action === 'list') return list(api, values.instance, values.json === true)
    const target = targetOf(values)
    if (action === 'remove') {
      const q = new URLSearchParams({ scope: target.scope, value: target.value, ...(values.instance ? { instance: values.instance } : {}) })
      const r = await call(api, 'DELETE', `/api/penalty?${q.toString()}`)
      if (!r.ok) return fail(r.body)
      process.stdout.write(`removed ${target.scope} ${target.value} from the penalty box\n`)
      return 0
    }
    if (!values.reason) throw new UsageError('add needs --reason: it is sent to the client')
    const body = {
      ...(values.instance ? { instance: values.instance } : {}),
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
  base: string
  token: string
}

interface ApiValues {
  config?: string | undefined
  instance?: string | undefined
  url?: string | undefined
  'token-file'?: string | undefined
}

/** The API's base URL and token: from the options, else from the policy tree. */
async function apiOf(values: ApiValues): Promise<Api | null> {
  let base = values.url
  const tokenFile = values['token-file']
  let token = tokenFile ? secretLine(await readFile(tokenFile, 'utf8')) : undefined
  if (tokenFile && !token) throw new UsageError(`no token in ${tokenFile}`)
  if (!base || !token) {
    const loaded = await loadPolicyOrReport(values.config)
    if (!loaded) return null
    const own = values.instance ? loaded.policy.instances[values.instance as InstanceName]?.admin : undefined
    const admin = own ?? loaded.policy.admin
    base ??= `http://${admin.address.includes(':') ? `[${admin.address}]` : admin.address}:${admin.port}`
    token ??= secretOf(loaded.files, loaded.policy.admin.token_file)
  }
  if (!token) throw new UsageError('no token: name one in admin.token_file of the policy, or give --token-file')
  return { base: base.replace(/\/$/, ''), token }
}

async function list(api: Api, instance: string | undefined, asJson: boolean): Promise<number> {
  const r = await call(api, 'GET', `/api/penalty${instance ? `?instance=${encodeURIComponent(instance)}` : ''}`)
  if (!r.ok) return fail(r.body)
  const entries = (r.body as { entries: PenaltyEntry[] }).entries
  if (asJson) process.stdout.write(`${JSON.stringify(entries, null, 2)}\n`)
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
  let res: Response
  try {
    res = await fetch(`${api.base}${path}`, {
      method,
      headers: { authorization: `Bearer ${api.token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    })
  } catch (err) {
    return { ok: false, body: { error: `cannot reach the relay's admin API at ${api.base}: ${(err as Error).message}` } }
  }
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

/** "address 192.0.2.7 until 2025-06-01T12:00:00Z (by alice, 2025-06-01T11:00:00Z): spam run" */
function line(e: PenaltyEntry): string {
  const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')
  return oneLine(`${e.scope} ${e.value} until ${iso(e.until)} (by ${e.who}, ${iso(e.when)}): ${e.why}`)
}


