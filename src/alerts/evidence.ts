import type { WindowCounts } from '../stats/client-stats.js'
import type { ClientView } from '../stats/store.js'
import type { Evidence } from './incident.js'

const SAMPLES = 5
const REFUSALS = 5
const DOMAINS = 10
const TEXT_MAX = 200

const iso = (ms: number) => new Date(ms).toISOString()
const clip = (s: string) => (s.length > TEXT_MAX ? `${s.slice(0, TEXT_MAX - 1)}…` : s)

/**
 * The evidence of a client key's statistics, bounded: the window's counters, refusals by reason,
 * the recipient domains it sent to most over the day, the latest samples and refusals.
 */
export function evidenceOf(view: ClientView, counts: WindowCounts): Evidence {
  const { refused_by, recipient_domains, ...plain } = counts
  return {
    counts: { ...plain, recipient_domains },
    refused_by: { ...refused_by },
    top_recipient_domains: view.topRecipientDomains.slice(0, DOMAINS),
    samples: view.samples.slice(0, SAMPLES).map((s) => ({
      at: iso(s.at),
      outcome: s.outcome,
      from: s.from,
      ...(s.subject !== undefined ? { subject: clip(s.subject) } : {}),
      ...(s.messageId !== undefined ? { message_id: clip(s.messageId) } : {}),
      ...(s.reply !== undefined ? { reply: clip(s.reply) } : {}),
    })),
    refusals: view.refusals.slice(0, REFUSALS).map((r) => ({ at: iso(r.at), reason: r.reason, check: r.check, reply: clip(r.reply) })),
  }
}

/** Evidence with no statistics behind it (AUTH trails, egress listings): only the rule's details. */
export function detailsEvidence(details: Record<string, unknown>): Evidence {
  return { counts: {}, refused_by: {}, top_recipient_domains: [], samples: [], refusals: [], details }
}
