import { Counter, Gauge, Histogram } from 'prom-client'
import { bound } from './bound.js'
import { registry } from './registry.js'

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

/** Connections accepted, by instance and listener. */
export const connectionsTotal = new Counter({
  name: 'smarthost_connections_total',
  help: 'SMTP connections accepted',
  labelNames: ['relay_instance', 'listener'] as const,
  registers: [registry],
})

/** Connections open now. */
export const connectionsActive = new Gauge({
  name: 'smarthost_connections_active',
  help: 'SMTP connections open now',
  labelNames: ['relay_instance', 'listener'] as const,
  registers: [registry],
})

/** Connections refused when accepted, by why: listener_full, outsiders_full, address_full. */
export const connectionsRefused = new Counter({
  name: 'smarthost_connections_refused_total',
  help: 'Connections refused at accept, before TLS and the greeting: listener_full (every connection in use), outsiders_full (the part open to clients outside relay.networks is in use), address_full (outsider_connections_per_address)',
  labelNames: ['relay_instance', 'listener', 'reason'] as const,
  registers: [registry],
})

/** Connections cut at a deadline, by phase: greeting, tls_handshake, command, data, data_rate. */
export const connectionsTimedOut = new Counter({
  name: 'smarthost_connections_timed_out_total',
  help: 'Connections closed at a deadline: greeting (greeting_timeout), tls_handshake (tls_handshake_timeout), command (idle_timeout), data (data_timeout), data_rate (data_min_rate)',
  labelNames: ['relay_instance', 'listener', 'phase'] as const,
  registers: [registry],
})

/** Transactions ended, by outcome: delivered, rejected, tempfailed, quarantined, aborted. */
export const transactionsTotal = new Counter({
  name: 'smarthost_transactions_total',
  help: 'Mail transactions ended, by outcome',
  labelNames: ['relay_instance', 'outcome'] as const,
  registers: [registry],
})

/** Replies from next hops by class (2xx, 4xx, 5xx, error for no reply). */
export const nextHopReplies = new Counter({
  name: 'smarthost_nexthop_replies_total',
  help: 'Final replies from next hops, by class; error means the hop could not be reached',
  labelNames: ['relay_instance', 'next_hop', 'class'] as const,
  registers: [registry],
})

/** Time from handing a message to a next hop to its final reply. */
export const nextHopDuration = new Histogram({
  name: 'smarthost_nexthop_duration_seconds',
  help: 'Time a next hop took to accept or refuse a message',
  labelNames: ['relay_instance', 'next_hop'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [registry],
})

/** Messages whose final dot got no answer from the next hop (cause: closed, timeout): possible duplicates. */
export const nextHopUnconfirmed = new Counter({
  name: 'smarthost_nexthop_unconfirmed_total',
  help: 'Messages sent to a next hop whose final dot got no answer (connection closed or timed out); answered 451, not sent elsewhere, possibly delivered',
  labelNames: ['relay_instance', 'next_hop', 'cause'] as const,
  registers: [registry],
})

/** Replies of next hops to RCPT, passed on to the client, by class. */
export const nextHopRcptReplies = new Counter({
  name: 'smarthost_nexthop_rcpt_replies_total',
  help: 'Replies of next hops to RCPT TO, passed on to the client while it waits, by class (2xx, 4xx, 5xx)',
  labelNames: ['relay_instance', 'next_hop', 'class'] as const,
  registers: [registry],
})

/** Time from the end of DATA to our final reply (checks plus next hop). */
export const dataReplyDuration = new Histogram({
  name: 'smarthost_data_reply_duration_seconds',
  help: 'Time from the end of DATA to the reply sent to the client',
  labelNames: ['relay_instance'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [registry],
})

/** Check verdicts, by check and outcome. */
export const checkResults = new Counter({
  name: 'smarthost_check_results_total',
  help: 'Check verdicts by check and outcome (continue, accept, tag, tempfail, reject, quarantine, error)',
  labelNames: ['relay_instance', 'check', 'outcome', 'mode'] as const,
  registers: [registry],
})

/** Time each check takes. */
export const checkDuration = new Histogram({
  name: 'smarthost_check_duration_seconds',
  help: 'Time a check took',
  labelNames: ['check'] as const,
  buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
  registers: [registry],
})

/** Replies we sent that refused something, by SMTP stage and basic code. */
export const refusalsTotal = new Counter({
  name: 'smarthost_refusals_total',
  help: 'Refusals sent to clients, by stage and reply code',
  labelNames: ['relay_instance', 'stage', 'code'] as const,
  registers: [registry],
})

/** What clients did wrong at the protocol level, and the sessions ended for it. */
export const clientFaults = new Counter({
  name: 'smarthost_client_faults_total',
  help: 'Client faults: tls (handshake failed), gone (hung up or reset mid-session), hard_error_limit and auth_session_limit (session closed with 421), pregreet and unauth_pipelining (session closed with 554 5.5.0)',
  labelNames: ['relay_instance', 'listener', 'fault'] as const,
  registers: [registry],
})

/** Configuration reloads that took effect. */
export const configReloads = new Counter({
  name: 'smarthost_config_reloads_total',
  help: 'Configuration reloads (SIGHUP) that took effect',
  registers: [registry],
})

/** Reloads refused because the new policy tree did not validate. */
export const configReloadFailures = new Counter({
  name: 'smarthost_config_reload_failures_total',
  help: 'Reloads refused because the new policy tree was invalid; the old one keeps running',
  registers: [registry],
})

/** 1 while the process accepts connections, 0 while draining. */
export const ready = new Gauge({
  name: 'smarthost_ready',
  help: '1 while every listener accepts connections, 0 while starting or draining',
  registers: [registry],
})

// Children by label values, in labelNames order, for the per-message path.
/** (relay_instance, listener) */
export const connectionsTotalFor = bound((...v) => connectionsTotal.labels(...v))
/** (relay_instance, listener) */
export const connectionsActiveFor = bound((...v) => connectionsActive.labels(...v))
/** (relay_instance, listener, reason) */
export const connectionsRefusedFor = bound((...v) => connectionsRefused.labels(...v))
/** (relay_instance, listener, phase) */
export const connectionsTimedOutFor = bound((...v) => connectionsTimedOut.labels(...v))
/** (relay_instance, outcome) */
export const transactionsFor = bound((...v) => transactionsTotal.labels(...v))
/** (relay_instance, next_hop, class) */
export const nextHopRepliesFor = bound((...v) => nextHopReplies.labels(...v))
/** (relay_instance, next_hop) */
export const nextHopDurationFor = bound((...v) => nextHopDuration.labels(...v))
/** (relay_instance, next_hop, cause) */
export const nextHopUnconfirmedFor = bound((...v) => nextHopUnconfirmed.labels(...v))
/** (relay_instance, next_hop, class) */
export const nextHopRcptRepliesFor = bound((...v) => nextHopRcptReplies.labels(...v))
/** (relay_instance) */
export const dataReplyDurationFor = bound((...v) => dataReplyDuration.labels(...v))
/** (relay_instance, check, outcome, mode) */
export const checkResultFor = bound((...v) => checkResults.labels(...v))
/** (check) */
export const checkDurationFor = bound((...v) => checkDuration.labels(...v))
/** (relay_instance, stage, code) */
export const refusalsFor = bound((...v) => refusalsTotal.labels(...v))
/** (relay_instance, listener, fault) */
export const clientFaultsFor = bound((...v) => clientFaults.labels(...v))
