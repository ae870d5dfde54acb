import { readFile } from 'node:fs/promises'
import type { Incident } from '../alerts/incident.js'
import { secretLine, secretOf } from '../config/load.js'
import type { InstanceName } from '../config/schema.js'
import type { Command } from './args.js'
import { UsageError, loadPolicyOrReport, operatorName, parse } from './args.js'

/** `smarthost-guard alerts list|show|ack|resolve`: the incidents of a running relay, through its admin API. */
export const alerts: Command = {
  name: 'alerts',
  summary: 'list, show, acknowledge or resolve the incidents the anomaly rules raised',
  usage: `Usage: smarthost-guard alerts list [--all] [options]
       smarthost-guard alerts show ID [options]
       smarthost-guard alerts ack ID [options]
       smarthost-guard alerts resolve ID [options]

Talks to the admin API of a running relay (the admin address and bearer token file of the
policy, admin.token_file). list shows the firing incidents (--all: resolved ones too); show
prints one with its evidence; ack records that the desk has seen it; resolve closes it now and
delivers the resolution to the webhooks, the abuse-desk e-mail and Request Tracker.

Options:
  -c, --config FILE      policy tree: where the admin API listens and its token (default: $SMARTHOST_GUARD_CONFIG or the embedded policies/relay.yaml)
  -i, --instance NAME    the instance whose admin listener to use when it runs alone (serve --instance)
      --url URL          admin API base URL instead of the policy's, e.g. http://10.0.0.5:9465
      --token-file FILE  bearer token file instead of the policy's admin.token_file
      --all              list resolved incidents too
      --by NAME          who acknowledges or resolves (default: $SUDO_USER, else your login name)
      --json             print JSON
`,
  async run(argv) {
    const { values, positionals } = parse(
      argv,
      {
        config: { type: 'string', short: 'c' },
        instance: { type: 'string', short: 'i' },
        url: { type: 'string' },
        'token-file': { type: 'string' },
        all: { type: 'boolean' },
        by: { type: 'string' },
        json: { type: 'boolean' },
      },
      true,
    )
    const [action, id, ...extra] = positionals
    if (!action || !['list', 'show', 'ack', 'resolve'].includes(action)) throw new UsageError('say list, show, ack or resolve')
    if (action === 'list' ? id !== undefined : !id || extra.length) throw new UsageError(action === 'list' ? 'list takes no incident id' : `${action} needs one incident id`)
    const api = await apiOf(values)
    if (!api) return 1
    const asJson = values.json === true
    if (action === 'list') {
      const r = await call(api, 'GET', `/api/alerts${values.all ? '' : '?status=firing'}`)
      if (!r.ok) return fail(r.body)
      const incidents = (r.body as { incidents: Incident[] }).incidents
      if (asJson) process.stdout.write(`${JSON.stringify(incidents, null, 2)}\n`)
      else process.stdout.write(incidents.length ? `${incidents.map(line).join('\n')}\n` : values.all ? 'no incidents\n' : 'no firing incidents\n')
      return 0
    }
    const r =
      action === 'show'
        ? await call(api, 'GET', `/api/alerts/show?id=${encodeURIComponent(id!)}`)
        : await call(api, 'POST', `/api/alerts/${action}`, { id, by: values.by ?? operatorName() })
    if (!r.ok) return fail(r.body)
    const incident = (r.body as { incident: Incident }).incident
    if (asJson) process.stdout.write(`${JSON.stringify(incident, null, 2)}\n`)
    else if (action === 'show') process.stdout.write(details(incident))
    else process.stdout.write(`${action === 'ack' ? 'acknowledged' : 'resolved'} ${line(incident)}\n`)
    return 0
  },
}

interface Api {
  base: string
  token: string
}

/** The API's base URL and token: from the options, else from the policy tree (as `penalty` finds them). */
async function apiOf(values: { config?: string | undefined; instance?: string | undefined; url?: string | undefined; 'token-file'?: string | undefined }): Promise<Api | null> {
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
  process.stderr.write(`smarthost-guard alerts: ${error}\n`)
  return 1
}

const iso = (s: string) => s.replace(/\.\d{3}Z$/, 'Z')

/** "inc-… firing critical message_burst address:192.0.2.7 since 2026-…Z: 612 messages in 5m (threshold 500)" */
function line(i: Incident): string {
  const acked = i.acked ? ` (acked by ${i.acked.by})` : ''
  return `${i.id} ${i.status} ${i.severity} ${i.rule} ${i.client_key} since ${iso(i.first_seen)}${acked}: ${i.summary}`
}

function details(i: Incident): string {
  const e = i.evidence
  const out = [
    line(i),
    `  class ${i.client_class}, window ${i.window}, observed ${i.observed}, threshold ${i.threshold}${i.baseline !== null ? `, usual ${i.baseline}` : ''}`,
    `  first seen ${iso(i.first_seen)}, last seen ${iso(i.last_seen)}${i.resolved_at ? `, resolved ${iso(i.resolved_at)}` : ''}`,
    `  action: ${i.action.penalty_box_until ? `penalty box until ${iso(i.action.penalty_box_until)}` : 'none'}${i.action.customer_notified ? ', customer e-mailed' : ''}`,
    `  next step: ${i.next_step}`,
  ]
  const reasons = Object.entries(e.refused_by)
  if (reasons.length) out.push(`  refused by: ${reasons.map(([r, n]) => `${r} ${n}`).join(', ')}`)
  if (e.top_recipient_domains.length) out.push(`  recipient domains: ${e.top_recipient_domains.map((d) => `${d.domain} ${d.count}`).join(', ')}`)
  for (const s of e.samples) out.push(`  sample ${iso(s.at)} ${s.outcome} <${s.from}> ${JSON.stringify(s.subject ?? '')} ${s.message_id ?? ''}`.trimEnd())
  if (e.details) out.push(`  details: ${JSON.stringify(e.details)}`)
  return `${out.join('\n')}\n`
}
