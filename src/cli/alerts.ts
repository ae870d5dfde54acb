import type { Incident } from '../alerts/incident.js'
import { ADMIN_OPTIONS, adminApi, adminCall } from './admin-client.js'
import type { Command } from './args.js'
import { UsageError, instanceName, operatorName, parse } from './args.js'
import { isoTime } from './iso-time.js'

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
  -i, --instance NAME    outbound or inbound: whose admin listener to try first when it runs alone (default outbound)
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
        ...ADMIN_OPTIONS,
        all: { type: 'boolean' },
        by: { type: 'string' },
        json: { type: 'boolean' },
      },
      true,
    )
    const [action, id, ...extra] = positionals
    if (!action || !['list', 'show', 'ack', 'resolve'].includes(action)) throw new UsageError('say list, show, ack or resolve')
    if (action === 'list' ? id !== undefined : !id || extra.length) throw new UsageError(action === 'list' ? 'list takes no incident id' : `${action} needs one incident id`)
    const api = await adminApi(values, instanceName(values.instance), 'alerts')
    if (!api) return 1
    const asJson = values.json === true
    if (action === 'list') {
      const r = await adminCall(api, 'GET', `/api/alerts${values.all ? '' : '?status=firing'}`)
      if (!r.ok) return fail(r.body)
      const incidents = (r.body as { incidents: Incident[] }).incidents
      if (asJson) process.stdout.write(`${JSON.stringify(incidents, null, 2)}\n`)
      else process.stdout.write(incidents.length ? `${incidents.map(line).join('\n')}\n` : values.all ? 'no incidents\n' : 'no firing incidents\n')
      return 0
    }
    const r =
      action === 'show'
        ? await adminCall(api, 'GET', `/api/alerts/show?id=${encodeURIComponent(id!)}`)
        : await adminCall(api, 'POST', `/api/alerts/${action}`, { id, by: values.by ?? operatorName() })
    if (!r.ok) return fail(r.body)
    const incident = (r.body as { incident: Incident }).incident
    if (asJson) process.stdout.write(`${JSON.stringify(incident, null, 2)}\n`)
    else if (action === 'show') process.stdout.write(details(incident))
    else process.stdout.write(`${action === 'ack' ? 'acknowledged' : 'resolved'} ${line(incident)}\n`)
    return 0
  },
}

function fail(body: unknown): number {
  const error = (body as { error?: string } | null)?.error ?? JSON.stringify(body)
  process.stderr.write(`smarthost-guard alerts: ${error}\n`)
  return 1
}


/** "inc-… firing critical message_burst address:192.0.2.7 since 2026-…Z: 612 messages in 5m (threshold 500)" */
function line(i: Incident): string {
  const acked = i.acked ? ` (acked by ${i.acked.by})` : ''
  return `${i.id} ${i.status} ${i.severity} ${i.rule} ${i.client_key} since ${isoTime(i.first_seen)}${acked}: ${i.summary}`
}

function details(i: Incident): string {
  const e = i.evidence
  const out = [
    line(i),
    `  class ${i.client_class}, window ${i.window}, observed ${i.observed}, threshold ${i.threshold}${i.baseline !== null ? `, usual ${i.baseline}` : ''}`,
    `  first seen ${isoTime(i.first_seen)}, last seen ${isoTime(i.last_seen)}${i.resolved_at ? `, resolved ${isoTime(i.resolved_at)}` : ''}`,
    `  action: ${i.action.penalty_box_until ? `penalty box until ${isoTime(i.action.penalty_box_until)}` : 'none'}${i.action.customer_notified ? ', customer e-mailed' : ''}`,
    `  next step: ${i.next_step}`,
  ]
  const reasons = Object.entries(e.refused_by)
  if (reasons.length) out.push(`  refused by: ${reasons.map(([r, n]) => `${r} ${n}`).join(', ')}`)
  if (e.top_recipient_domains.length) out.push(`  recipient domains: ${e.top_recipient_domains.map((d) => `${d.domain} ${d.count}`).join(', ')}`)
  for (const s of e.samples) out.push(`  sample ${isoTime(s.at)} ${s.outcome} <${s.from}> ${JSON.stringify(s.subject ?? '')} ${s.message_id ?? ''}`.trimEnd())
  if (e.details) out.push(`  details: ${JSON.stringify(e.details)}`)
  return `${out.join('\n')}\n`
}
