import { createHash } from 'node:crypto'
import type { Incident } from './incident.js'
import type { RuleKind } from './schema.js'

/** The XARF version the reports follow: the v4 core format (xarf/xarf-spec, schemas/v4/xarf-core.json). */
export const XARF_VERSION = '4.0.0'

/** An XARF 4 report: the core fields, plus the tags and one JSON evidence item. */
export interface XarfReport {
  xarf_version: string
  report_id: string
  timestamp: string
  reporter: { org: string; contact: string; type: 'automated' }
  source_identifier: string
  class: 'messaging' | 'connection' | 'reputation'
  type: string
  evidence_source: string
  description: string
  confidence: number
  tags: string[]
  evidence: { content_type: string; description: string; payload: string; hash: string; size: number }[]
}

const CLASS_TYPE: Record<RuleKind, [XarfReport['class'], string]> = {
  volume: ['messaging', 'spam'],
  rise: ['messaging', 'spam'],
  refusal_ratio: ['messaging', 'spam'],
  domain_fanout: ['messaging', 'spam'],
  bounce: ['messaging', 'bulk_messaging'],
  auth_burst: ['connection', 'login_attack'],
  auth_cracked: ['connection', 'login_attack'],
  auth_cracked_sending: ['messaging', 'spam'],
  egress_listed: ['reputation', 'blocklist'],
  // Not abuse: the domain's SPF lacks the relay, so its mail may be refused at its destinations.
  spf_relay_not_authorized: ['messaging', 'other'],
}

const tag = (ns: string, v: string) => `${ns}:${v.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`

/** A UUID made from a text (its SHA-256, with the version 4 and variant bits set), so a retried report keeps its id. */
function uuidOf(text: string): string {
  const h = createHash('sha256').update(text).digest('hex').split('')
  h[12] = '4'
  h[16] = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)
  const s = h.join('')
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20, 32)}`
}

/**
 * The XARF 4 report of an incident event: what the abuse desk's tools read from the e-mail's
 * machine part. The evidence (counters, refusal reasons, samples) rides as one base64 JSON item.
 */
export function xarfReport(incident: Incident, deliveryId: string, reporter: { org: string; contact: string }): XarfReport {
  const [cls, type] = CLASS_TYPE[incident.kind]
  const evidence = Buffer.from(JSON.stringify({ incident: incident.id, observed: incident.observed, baseline: incident.baseline, ...incident.evidence }))
  return {
    xarf_version: XARF_VERSION,
    report_id: uuidOf(deliveryId),
    timestamp: incident.first_seen,
    reporter: { org: reporter.org, contact: reporter.contact, type: 'automated' },
    source_identifier: incident.client_key.slice(incident.client_key.indexOf(':') + 1),
    class: cls,
    type,
    evidence_source: 'automated_filter',
    description: incident.summary.slice(0, 1000),
    confidence: incident.severity === 'critical' ? 0.9 : 0.7,
    tags: [tag('rule', incident.rule), tag('severity', incident.severity), tag('status', incident.status)],
    evidence: [
      {
        content_type: 'application/json',
        description: 'Counters, refusal reasons, recipient domains and sample messages of the incident',
        payload: evidence.toString('base64'),
        hash: `sha256:${createHash('sha256').update(evidence).digest('hex')}`,
        size: evidence.length,
      },
    ],
  }
}
