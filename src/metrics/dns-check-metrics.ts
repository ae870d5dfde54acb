import { Counter, Gauge } from 'prom-client'
import { bound } from './bound.js'
import { registry } from './registry.js'

// DNS lists, their health, the egress watch and SPF. List names come from the policy's
// dns_lists (a small, operator-chosen set); egress addresses are our own, never a client's.

/** Lookups of clients, HELO names and senders in DNS lists, by result. */
export const dnsListLookups = new Counter({
  name: 'smarthost_dnslist_lookups_total',
  help: 'DNS list lookups by list and result: listed, clean, timeout (no answer within the check deadline), error, skipped (list unhealthy)',
  labelNames: ['relay_instance', 'list', 'result'] as const,
  registers: [registry],
})

/** 1 while a list passes its RFC 5782 health check, 0 while it is skipped. */
export const dnsListHealthy = new Gauge({
  name: 'smarthost_dnslist_healthy',
  help: '1 while a DNS list answers its RFC 5782 test points correctly, 0 while it is skipped',
  labelNames: ['list'] as const,
  registers: [registry],
})

/** Health checks by result. */
export const dnsListHealthChecks = new Counter({
  name: 'smarthost_dnslist_health_checks_total',
  help: 'DNS list health checks by result: healthy, no_answer, test_point_not_listed, lists_everything',
  labelNames: ['list', 'result'] as const,
  registers: [registry],
})

/** 1 while an egress address is listed in a list, 0 when it is not. */
export const egressListed = new Gauge({
  name: 'smarthost_egress_listed',
  help: '1 while one of our egress addresses is listed in a block list, 0 when it was found not listed',
  labelNames: ['egress', 'list'] as const,
  registers: [registry],
})

/** Egress lookups by result. */
export const egressChecks = new Counter({
  name: 'smarthost_egress_checks_total',
  help: 'Lookups of our egress addresses in block lists, by result: listed, clean, error, skipped',
  labelNames: ['list', 'result'] as const,
  registers: [registry],
})

/** When the egress watch last completed a round (seconds since the epoch). */
export const egressLastCheck = new Gauge({
  name: 'smarthost_egress_last_check_timestamp_seconds',
  help: 'When the egress watch last looked our egress addresses up',
  registers: [registry],
})

/** SPF results by check, side and result. */
export const spfResults = new Counter({
  name: 'smarthost_spf_results_total',
  help:
    'SPF evaluations by check (mail.spf_outbound, mail.spf_inbound), side (client: for the client address; egress: for our egress addresses, the worst of them) ' +
    'and result (pass, fail, softfail, neutral, none, temperror, permerror)',
  labelNames: ['relay_instance', 'check', 'side', 'result'] as const,
  registers: [registry],
})

/** Outbound SPF's conclusion from both sides, one per sender evaluated. */
export const spfOutboundResults = new Counter({
  name: 'smarthost_spf_outbound_results_total',
  help:
    'mail.spf_outbound conclusions from the client and egress sides: pass (egress pass), forged (both fail), relay_not_authorized ' +
    '(client pass, egress fail: its SPF lacks the relay), or the egress result (softfail, neutral, none, permerror, temperror)',
  labelNames: ['relay_instance', 'result'] as const,
  registers: [registry],
})

/** (relay_instance, list, result) */
export const dnsListLookupsFor = bound((...v) => dnsListLookups.labels(...v))
/** (relay_instance, check, side, result) */
export const spfResultsFor = bound((...v) => spfResults.labels(...v))
/** (relay_instance, result) */
export const spfOutboundResultsFor = bound((...v) => spfOutboundResults.labels(...v))
