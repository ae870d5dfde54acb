import type { Incident } from './incident.js'

/** The human part of an abuse report: what happened, the evidence, what to do next. */
export function reportText(i: Incident, event: string): string {
  const lines = [
    `${event === 'resolved' ? 'RESOLVED' : event === 'updated' ? 'UPDATE' : 'NEW'}: ${i.summary}`,
    '',
    `Incident:     ${i.id}`,
    `Rule:         ${i.rule} (${i.kind}), severity ${i.severity}`,
    `Client:       ${i.client_key} (class ${i.client_class})`,
    `Observed:     ${i.observed} in ${i.window} (threshold ${i.threshold}${i.baseline !== null ? `, usual ${i.baseline}` : ''})`,
    `First seen:   ${i.first_seen}`,
    `Last seen:    ${i.last_seen}`,
    ...(i.resolved_at ? [`Resolved:     ${i.resolved_at}`] : []),
    `Action taken: ${i.action.penalty_box_until ? `in the penalty box until ${i.action.penalty_box_until}` : 'none'}${i.action.customer_notified ? '; the customer was e-mailed' : ''}`,
    '',
    `Next step: ${i.next_step}`,
  ]
  const e = i.evidence
  const reasons = Object.entries(e.refused_by)
  if (reasons.length) lines.push('', 'Refusals by reason:', ...reasons.map(([r, n]) => `  ${r}: ${n}`))
  if (e.top_recipient_domains.length) lines.push('', 'Top recipient domains (messages, last 24 hours):', ...e.top_recipient_domains.map((d) => `  ${d.domain}: ${d.count}`))
  if (e.samples.length) {
    lines.push('', 'Sample messages:')
    for (const s of e.samples) lines.push(`  ${s.at} ${s.outcome} from <${s.from}> subject ${JSON.stringify(s.subject ?? '')} message-id ${s.message_id ?? '-'}`)
  }
  if (e.refusals.length) lines.push('', 'Recent refusals:', ...e.refusals.map((r) => `  ${r.at} ${r.check} (${r.reason}): ${r.reply}`))
  if (e.details) lines.push('', 'Details:', JSON.stringify(e.details, null, 2))
  if (Object.keys(e.counts).length) lines.push('', `Counters over ${i.window}: ${Object.entries(e.counts).map(([k, v]) => `${k}=${v}`).join(' ')}`)
  return `${lines.join('\n')}\n`
}
