import { Counter } from 'prom-client'
import { bound } from './bound.js'
import { registry } from './registry.js'

/** DMARC lookups of From: domains that do not align with the sender, by the policy that applied. */
export const dmarcLookups = new Counter({
  name: 'smarthost_dmarc_lookups_total',
  help: 'DMARC policy lookups of From: domains not aligned with the envelope sender or AUTH user, by the policy that applied: reject, quarantine, none, no_record, temperror, or pass (a DKIM signature of the From: domain aligned the message)',
  labelNames: ['relay_instance', 'policy'] as const,
  registers: [registry],
})

/** (relay_instance, policy) */
export const dmarcLookupsFor = bound((...v) => dmarcLookups.labels(...v))
