import { oneLine } from '../limits/one-line.js'
import type { WindowCounts } from '../stats/client-stats.js'
import type { SpfRelayRow } from '../stats/spf-report.js'
import type { ClientView, TopRow } from '../stats/store.js'
import { SORT_FIELDS } from '../stats/store.js'
import { WINDOW_NAMES } from '../stats/windows.js'
import type { AdminApi } from './admin-client.js'
import { ADMIN_OPTIONS, adminApi, adminCall } from './admin-client.js'
import type { Command } from './args.js'
import { UsageError, instanceName, parse } from './args.js'
import { isoTime } from './iso-time.js'

const BY = ['address', 'subnet', 'user', 'sender_domain']

/** `smarthost-guard stats top|show|spf`: the per-client statistics of a running relay, through its admin API. */
export const stats: Command = {
  name: 'stats',
  summary: 'who sends the most, who is refused the most: per-client statistics of a running relay',
  usage: `Usage: smarthost-guard stats top [--by DIMENSION] [--window W] [--sort FIELD] [--limit N] [options]
       smarthost-guard stats show CLIENT [options]
       smarthost-guard stats spf [--window W] [--limit N] [options]

Reads the per-client statistics of a running relay through its admin API (the admin address and
the bearer token file of the policy, admin.token_file, which serve creates at first start). With
the Redis backend every node's traffic is in the figures, whichever node you ask.

  top    the busiest clients of one dimension over a window
  show   one client: every counter per window, its hourly baseline, recent refusals and samples.
         CLIENT is an address (192.0.2.7), a subnet (192.0.2.0/24), or a typed key:
         address:IP, subnet:CIDR, user:NAME, sender_domain:DOMAIN
  spf    sender domains whose SPF passes for their customers but not for the relay's egress
         (SPF_RELAY_NOT_AUTHORIZED), with the clients that sent them: each needs the relay in
         its SPF record (an include: of the ISP's). Window default 24h.

Options:
  -c, --config FILE      policy tree: where the admin API listens and its token (default: $SMARTHOST_GUARD_CONFIG or the embedded policies/relay.yaml)
  -i, --instance NAME    outbound or inbound (default outbound)
      --url URL          admin API base URL instead of the policy's, e.g. http://10.0.0.5:9465
      --token-file FILE  bearer token file instead of the policy's admin.token_file
      --by DIMENSION     ${BY.join(', ')} (default address)
  -w, --window W         ${WINDOW_NAMES.join(', ')} (default 15m; 24h for spf)
  -s, --sort FIELD       ${SORT_FIELDS.join(', ')} (default messages)
  -n, --limit N          rows, 1 to 1000 (default 20)
      --json             print JSON instead of a table
`,
  async run(argv) {
    const { values, positionals } = parse(
      argv,
      {
        ...ADMIN_OPTIONS,
        by: { type: 'string', default: 'address' },
        window: { type: 'string', short: 'w' },
        sort: { type: 'string', short: 's', default: 'messages' },
        limit: { type: 'string', short: 'n', default: '20' },
        json: { type: 'boolean' },
      },
      true,
    )
    const [action, client, ...extra] = positionals
    if (action === 'top' && !client) {
      const q = { by: oneOf('--by', values.by, BY), window: oneOf('--window', values.window ?? '15m', WINDOW_NAMES), sort: oneOf('--sort', values.sort, SORT_FIELDS), limit: limitOf(values.limit) }
      const instance = instanceName(values.instance)
      const api = await adminApi(values, instance, 'stats')
      if (!api) return 1
      return top(api, new URLSearchParams({ instance, ...q }), values.json === true)
    }
    if (action === 'spf' && !client) {
      const q = { window: oneOf('--window', values.window ?? '24h', WINDOW_NAMES), limit: limitOf(values.limit) }
      const instance = instanceName(values.instance)
      const api = await adminApi(values, instance, 'stats')
      if (!api) return 1
      return spf(api, new URLSearchParams({ instance, ...q }), values.json === true)
    }
    if (action === 'show' && client && !extra.length) {
      const instance = instanceName(values.instance)
      const api = await adminApi(values, instance, 'stats')
      if (!api) return 1
      return show(api, new URLSearchParams({ instance, key: client }), values.json === true)
    }
    throw new UsageError(action === 'show' ? 'say which client: stats show ADDRESS (or address:IP, subnet:CIDR, user:NAME, sender_domain:DOMAIN)' : 'say top, show CLIENT or spf')
  },
}

function oneOf(option: string, value: string | undefined, allowed: readonly string[]): string {
  if (value && allowed.includes(value)) return value
  throw new UsageError(`${option} must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`)
}

function limitOf(limit: string): string {
  if (!/^\d+$/.test(limit) || Number(limit) < 1 || Number(limit) > 1000) throw new UsageError(`--limit must be a whole number from 1 to 1000, got ${JSON.stringify(limit)}`)
  return limit
}

async function spf(api: AdminApi, q: URLSearchParams, asJson: boolean): Promise<number> {
  const r = await adminCall(api, 'GET', `/api/stats/spf?${q.toString()}`)
  if (!r.ok) return fail(r.body)
  const body = r.body as { rows: SpfRelayRow[]; window: string; backend: string }
  if (asJson) {
    process.stdout.write(`${JSON.stringify({ ...body, rows: body.rows.map((row) => ({ ...row, lastSeen: isoTime(row.lastSeen) })) }, null, 2)}\n`)
    return 0
  }
  if (!body.rows.length) {
    process.stdout.write(`no sender domain lacked the relay in its SPF in the last ${body.window}\n`)
    return 0
  }
  const header = ['sender domain', 'msgs', 'last seen', 'clients (messages, last 24 h)']
  const rows = body.rows.map((row) => [row.domain, String(row.messages), isoTime(row.lastSeen), row.clients.map((c) => `${c.client} ${c.count}`).join(', ') || '-'])
  const intro =
    `sender domains whose SPF passes for the client but fails for this relay, last ${body.window} (${body.backend}):\n` +
    `relayed and flagged SPF_RELAY_NOT_AUTHORIZED; ask each to add the relay to its SPF record (include: of the ISP's record)\n`
  process.stdout.write(`${intro}${table([header, ...rows])}`)
  return 0
}

async function top(api: AdminApi, q: URLSearchParams, asJson: boolean): Promise<number> {
  const r = await adminCall(api, 'GET', `/api/stats/top?${q.toString()}`)
  if (!r.ok) return fail(r.body)
  const body = r.body as { rows: TopRow[]; by: string; window: string; sort: string; backend: string }
  if (asJson) {
    process.stdout.write(`${JSON.stringify(body, null, 2)}\n`)
    return 0
  }
  if (!body.rows.length) {
    process.stdout.write(`nobody with ${body.sort} in the last ${body.window}\n`)
    return 0
  }
  const header = ['client', 'conns', 'msgs', 'refused', 'tempfail', 'rcpts', 'rcpt-doms', 'bounces', 'auth-fail', 'bytes', 'refused by']
  const rows = body.rows.map((row) => [row.key.slice(row.key.indexOf(':') + 1), ...figures(row.counts)])
  process.stdout.write(`top ${body.by} by ${body.sort}, last ${body.window} (${body.backend})\n${table([header, ...rows])}`)
  return 0
}

async function show(api: AdminApi, q: URLSearchParams, asJson: boolean): Promise<number> {
  const r = await adminCall(api, 'GET', `/api/stats/client?${q.toString()}`)
  if (!r.ok) return fail(r.body)
  const { client: v, backend } = r.body as { client: ClientView; backend: string }
  if (asJson) {
    process.stdout.write(`${JSON.stringify({ ...v, firstSeen: isoTime(v.firstSeen), lastSeen: isoTime(v.lastSeen), backend, refusals: v.refusals.map((x) => ({ ...x, at: isoTime(x.at) })), samples: v.samples.map((x) => ({ ...x, at: isoTime(x.at) })) }, null, 2)}\n`)
    return 0
  }
  const out = [`${v.key} (${backend}): first seen ${isoTime(v.firstSeen)}, last seen ${isoTime(v.lastSeen)}`, '']
  const header = ['window', 'conns', 'msgs', 'refused', 'tempfail', 'rcpts', 'rcpt-doms', 'bounces', 'auth-fail', 'bytes', 'refused by']
  out.push(table([header, ...WINDOW_NAMES.map((w) => [w, ...figures(v.windows[w])])]).trimEnd())
  const b = v.baseline
  out.push('', b ? `baseline over ${b.hours} h, this last hour against it:` : 'baseline: none yet (it learns from the first closed hour on)')
  if (b) {
    for (const series of ['messages', 'recipients', 'refused'] as const) {
      const c = b[series]
      out.push(`  ${series.padEnd(10)} ${String(c.observed).padStart(6)} vs usual ${c.expected} (${c.basis.replace(/_/g, ' ')}): ${c.ratio}x, z = ${c.z}`)
    }
  }
  if (v.topRecipientDomains.length) out.push('', `top recipient domains (messages, last 24 h): ${v.topRecipientDomains.map((d) => `${d.domain} ${d.count}`).join(', ')}`)
  if (v.refusals.length) out.push('', 'recent refusals:', ...v.refusals.map((x) => oneLine(`  ${isoTime(x.at)} ${x.reason} ${x.check}: ${x.reply}`)))
  if (v.samples.length) {
    out.push('', 'recent messages:')
    for (const s of v.samples) out.push(oneLine(`  ${isoTime(s.at)} ${s.id} ${s.outcome} from=<${s.from}> to ${s.recipientDomains.join(',')}${s.subject ? ` subject="${s.subject}"` : ''}${s.messageId ? ` ${s.messageId}` : ''}`))
  }
  process.stdout.write(`${out.join('\n')}\n`)
  return 0
}

function figures(c: WindowCounts): string[] {
  const by = Object.entries(c.refused_by)
    .map(([reason, n]) => `${reason}=${n}`)
    .join(',')
  return [c.connections, c.accepted, c.refused, c.tempfailed, c.recipients, c.recipient_domains, c.null_sender, c.auth_failures, c.bytes].map(String).concat(by || '-')
}

/** Columns padded to their widest cell; numbers right-aligned. */
function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)))
  return rows.map((r) => r.map((cell, i) => (i > 0 && i < r.length - 1 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n') + '\n'
}

function fail(body: unknown): number {
  const error = (body as { error?: string } | null)?.error ?? JSON.stringify(body)
  process.stderr.write(`smarthost-guard stats: ${oneLine(error)}\n`)
  return 1
}
