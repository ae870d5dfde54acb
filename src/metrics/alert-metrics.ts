import { Counter, Gauge } from 'prom-client'
import { registry } from './registry.js'

/** Incidents opened, by rule and severity (rule names come from the policy: a small fixed set). */
export const alertsRaised = new Counter({
  name: 'smarthost_alerts_raised_total',
  help: 'Incidents opened by the anomaly rules, by rule and severity',
  labelNames: ['rule', 'severity'] as const,
  registers: [registry],
})

/** Delivery attempts of incident events, by sender (its configured name) and result (ok, failed). */
export const alertDeliveries = new Counter({
  name: 'smarthost_alert_deliveries_total',
  help: 'Attempts to deliver incident events, by sender (webhook name, email, request_tracker, customer) and result (ok: the receiver confirmed; failed: retried later)',
  labelNames: ['sender', 'result'] as const,
  registers: [registry],
})

/** Incident events waiting in the outbox. */
export const alertOutboxSize = new Gauge({
  name: 'smarthost_alert_outbox_size',
  help: 'Incident events waiting in the outbox for their receiver to confirm (on the node holding the evaluation lease)',
  registers: [registry],
})

/** Age of the oldest waiting event; 0 when the outbox is empty. */
export const alertOutboxOldest = new Gauge({
  name: 'smarthost_alert_outbox_oldest_seconds',
  help: 'Age of the oldest incident event waiting in the outbox, 0 when it is empty',
  registers: [registry],
})
