import { compileOffline } from '../config/compile-offline.js'
import type { InstanceConfig, Policy } from '../config/schema.js'
import { INSTANCE_NAMES } from '../config/schema.js'
import { formatBytes, formatDuration } from '../config/units.js'
import { scansContent } from '../scan/policy-rules.js'
import type { Command } from './args.js'
import { loadPolicyOrReport, parse } from './args.js'

/** `smarthost-guard check-config`: validates a policy tree and prints a summary. */
export const checkConfig: Command = {
  name: 'check-config',
  summary: 'validate a policy tree and print a summary',
  usage: `Usage: smarthost-guard check-config [--config FILE]

Validates the policy tree and every file it names (certificates, credentials, recipient
lists). Prints a summary and exits 0, or prints every problem as FILE:LINE:COL KEY: PROBLEM
and exits 1. Use it in CI before deploying a policy, and before sending SIGHUP.

Options:
  -c, --config FILE     policy tree (default: $SMARTHOST_GUARD_CONFIG or the embedded policies/relay.yaml)
`,
  async run(argv) {
    const { values } = parse(argv, { config: { type: 'string', short: 'c' } })
    const loaded = await loadPolicyOrReport(values.config)
    if (!loaded) return 1
    for (const warning of loaded.warnings) process.stderr.write(`${warning}\n`)
    const { dns, policies } = compileOffline(loaded)
    const out = [`${loaded.file}: OK`, `hostname ${loaded.policy.hostname ?? '(system host name)'}; admin ${loaded.policy.admin.address}:${loaded.policy.admin.port}`]
    out.push(`dns ${loaded.policy.dns.servers.length ? loaded.policy.dns.servers.join(', ') : 'system resolvers (/etc/resolv.conf)'}`)
    out.push(`state ${describeState(loaded.policy.state)}`)
    const dnsLists = dns.lists.all().map((l) => `${l.name} (${l.zone}, ${l.type} ${l.kind})`)
    out.push(`dns lists: ${dnsLists.join(', ') || 'none'}; egress: ${loaded.policy.egress.addresses.join(', ') || 'none'}`)
    for (const name of INSTANCE_NAMES) {
      const config = loaded.policy.instances[name]
      const policy = policies.get(name)
      if (!config || !policy) continue
      out.push(`${name}:`, ...describe(config).map((l) => `  ${l}`))
      const stages = Object.entries(policy.pipeline)
        .filter(([, checks]) => checks.length)
        .map(([stage, checks]) => `${stage}[${checks.map((c) => c.id + (c.core ? '*' : c.mode === 'warn' ? '(warn)' : '')).join(' ')}]`)
      out.push(`  checks: ${stages.join(' ') || 'none'} (* core)`)
      out.push(`  relay users: ${policy.credentials?.size ?? 0}`)
    }
    process.stdout.write(out.join('\n') + '\n')
    return 0
  },
}

function describe(c: InstanceConfig): string[] {
  const listeners = c.listeners.map(
    (l) => `${l.name} ${l.address}:${l.port} (${l.tls}${l.auth ? ', auth' : ''}${l.proxy_from.length ? ', proxy' : ''})`,
  )
  const local = Object.keys(c.local.domains)
  return [
    `listeners: ${listeners.join(', ')}`,
    `relay networks: ${c.relay.networks.join(', ') || 'none'}`,
    `local domains: ${local.join(', ') || 'none'}`,
    `next hops: ${c.next_hops.map((h) => `${h.host}:${h.port} (${h.tls})`).join(', ')}`,
    `limits: message ${formatBytes(c.limits.message_size)}, ${c.limits.recipients_per_message} recipients, ${c.limits.connections_per_listener} connections per listener; idle ${formatDuration(c.limits.idle_timeout)}, command ${formatDuration(c.limits.command_timeout)}, drain ${formatDuration(c.limits.drain_timeout)}`,
    `scoring: tempfail at ${c.scoring.tempfail_at ?? '-'}, reject at ${c.scoring.reject_at ?? '-'}, decided at ${c.scoring.decide_at.join(', ')}`,
    `classes: ${describeClasses(c.classes)}`,
    `penalty box: ${c.penalty_box.reply}, ${formatDuration(c.penalty_box.default_duration)} by default, ${c.penalty_box.rules.length} rule${c.penalty_box.rules.length === 1 ? '' : 's'}; tarpit ${c.tarpit.delay ? `${formatDuration(c.tarpit.delay)}, at most ${c.tarpit.max_sockets} at once` : 'off'}`,
    ...(scansContent(c)
      ? [`scan: rules ${c.scan.rules} (${c.scan.engine} engine), ${c.scan.workers} threads, limits depth ${c.scan.limits.depth}, ${c.scan.limits.objects} objects, ${formatBytes(c.scan.limits.total_bytes)}, ratio ${c.scan.limits.expansion_ratio}, ${formatDuration(c.scan.limits.time)}`]
      : []),
    ...(c.quarantine ? [`quarantine: ${c.quarantine.dir} (${formatBytes(c.quarantine.max_size)}, ${formatDuration(c.quarantine.max_age)})`] : []),
  ]
}

function describeClasses(c: InstanceConfig['classes']): string {
  const lists = c.networks.map((n) => `${n.class}${n.list === 'deny' ? ' (deny)' : ''}`)
  const o = c.overrides
  const overrides = [`${Object.keys(o.cidrs).length} cidr`, `${Object.keys(o.users).length} user`, `${Object.keys(o.sender_domains).length} sender domain`]
  return `default ${c.default}, after AUTH ${c.authenticated}; lists ${lists.join(', ') || 'none'}; overrides ${overrides.join(', ')}`
}

function describeState(s: Policy['state']): string {
  if (s.backend === 'memory' || !s.redis) return `memory (at most ${s.memory.max_entries} limiter counters)`
  const r = s.redis
  const where = r.url ? r.url.replace(/\/\/[^@/]*@/, '//') : r.sentinels ? `sentinels ${r.sentinels.join(', ')} (${r.sentinel_name})` : `cluster ${r.cluster?.join(', ')}`
  return `redis ${where}, key prefix ${JSON.stringify(r.key_prefix)}, on failure ${r.on_failure}`
}
