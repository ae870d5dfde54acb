import { z } from 'zod'
import { className } from '../classes/schema.js'
import { duration, host, port } from '../config/units.js'
import { WINDOW_NAMES } from '../stats/windows.js'
import type { WindowName } from '../stats/windows.js'

// Top-level `alerts`: anomaly rules per client class, how incidents evolve, and where they are
// delivered (webhooks, an abuse-report e-mail, Request Tracker) through a durable outbox.

const windowName = () =>
  z.enum(WINDOW_NAMES as [WindowName, ...WindowName[]], { error: `expected one of ${WINDOW_NAMES.join(', ')}` })

const ruleName = () => z.string().regex(/^[a-z0-9_-]+$/, 'a rule name: use lower case letters, digits, - and _')

const actionSchema = z
  .strictObject({
    penalty_box: duration()
      .nullable()
      .default(null)
      .describe('Put the client key in the penalty box of the instance for this long when the incident fires; null: no'),
    notify_customer: z
      .boolean()
      .default(false)
      .describe('Also e-mail the customer contact of the client key (alerts.contacts) when the incident fires'),
  })
  .prefault({})
  .describe('What the relay does by itself when an incident of this rule fires')

const common = {
  name: ruleName().describe('Rule name: part of the incident id, in the metrics and on the ticket'),
  severity: z.enum(['info', 'warning', 'critical']).default('warning').describe('Severity on the incident and the ticket'),
  dimension: z
    .enum(['address', 'subnet', 'user', 'sender_domain'])
    .default('address')
    .describe('Which client keys the rule looks at: the client address, its /24 or /64, the AUTH user, the sender domain'),
  action: actionSchema,
}

const volumeRule = z.strictObject({
  ...common,
  kind: z.literal('volume').describe('Absolute threshold: a counter over a window above a number'),
  counter: z
    .enum(['messages', 'recipients', 'refused', 'auth_failures', 'connections', 'bounces'])
    .describe('What is counted: accepted messages, recipients, refusals, AUTH failures, connections, null-sender messages'),
  window: windowName().default('5m').describe('Window the counter is read over'),
  above: z.number().positive().describe('Fires when the counter is at least this'),
})

const riseRule = z.strictObject({
  ...common,
  kind: z.literal('rise').describe("Rise against the client's own hourly baseline, and sudden volume from a client with no history"),
  series: z.enum(['messages', 'recipients', 'refused']).default('messages').describe('Which hourly series is compared'),
  min_volume: z.number().int().positive().default(50).describe('No alert below this many in the last hour'),
  ratio: z.number().positive().default(5).describe('Fires when the last hour is at least this many times the baseline…'),
  z: z.number().positive().default(4).describe('…and at least this many standard deviations above it'),
  new_client_volume: z
    .number()
    .int()
    .positive()
    .nullable()
    .default(300)
    .describe('A client without a baseline fires when its last hour reaches this; null: never'),
})

const refusalRatioRule = z.strictObject({
  ...common,
  kind: z.literal('refusal_ratio').describe('Share of transactions refused for the given reasons'),
  window: windowName().default('15m').describe('Window the share is read over'),
  reasons: z
    .array(z.enum(['content', 'dnsbl', 'spf', 'header', 'helo_rdns', 'access', 'limit', 'penalty_box', 'next_hop', 'other']))
    .min(1)
    .default(['content', 'dnsbl', 'spf', 'header'])
    .describe('Refusal reasons that count'),
  ratio: z.number().gt(0).max(1).default(0.3).describe('Fires when at least this share of transactions was refused for them'),
  min_volume: z.number().int().positive().default(20).describe('No alert below this many transactions in the window'),
})

const bounceRule = z.strictObject({
  ...common,
  kind: z.literal('bounce').describe('Null-sender (MAIL FROM:<>) reports fanned out to many recipient domains: backscatter'),
  window: windowName().default('15m').describe('Window read'),
  min_volume: z.number().int().positive().default(20).describe('Fires only from this many null-sender transactions on'),
  recipient_domains: z.number().int().positive().default(10).describe('…to at least this many distinct recipient domains'),
  ratio: z
    .number()
    .gt(0)
    .max(1)
    .default(0.3)
    .describe('…making at least this share of all transactions (an MTA bounces a little; a backscatterer mostly)'),
})

const fanoutRule = z.strictObject({
  ...common,
  kind: z.literal('domain_fanout').describe('Recipient-domain fan-out: many distinct recipient domains in a window'),
  window: windowName().default('15m').describe('Window read'),
  above: z.number().int().positive().default(100).describe('Fires from this many distinct recipient domains on'),
  min_volume: z.number().int().positive().default(20).describe('No alert below this many transactions in the window'),
})

const spfRelayRule = z.strictObject({
  ...common,
  severity: z.enum(['info', 'warning', 'critical']).default('info').describe('Severity on the incident and the ticket'),
  dimension: z.literal('sender_domain').default('sender_domain').describe('SPF records belong to sender domains'),
  kind: z
    .literal('spf_relay_not_authorized')
    .describe("A sender domain whose SPF passes for its customers but fails for our egress (SPF_RELAY_NOT_AUTHORIZED): it must add the relay to its record"),
  window: windowName().default('24h').describe('Window read'),
  above: z.number().int().positive().default(1).describe('Fires from this many such messages in the window on'),
})

const authBurstRule = z.strictObject({
  ...common,
  dimension: z.literal('user').default('user').describe('AUTH rules are about one account'),
  kind: z.literal('auth_burst').describe('A burst of AUTH failures against one account, from any addresses'),
  window: duration().prefault('5m').describe('Window'),
  above: z.number().int().positive().default(20).describe('Fires from this many failures on'),
})

const authCrackedRule = z.strictObject({
  ...common,
  dimension: z.literal('user').default('user').describe('AUTH rules are about one account'),
  kind: z.literal('auth_cracked').describe('AUTH failures, then a success from an address the account never logged in from'),
  window: duration().prefault('1h').describe('How far back the failures count'),
  failures: z.number().int().positive().default(10).describe('Failures within the window before the success'),
})

const authCrackedSendingRule = z.strictObject({
  ...common,
  dimension: z
    .literal('address')
    .default('address')
    .describe("The new address is the incident's client key and what goes in the penalty box; the account and its known addresses are not held"),
  kind: z
    .literal('auth_cracked_sending')
    .describe('AUTH failures, a login from an address the account never logged in from, then mail in volume from that address (needs statistics)'),
  window: duration().prefault('1h').describe('How far back before the login the failures count'),
  failures: z.number().int().positive().default(5).describe('Failures within the window before the login'),
  watch: duration().prefault('1h').describe('How long after the login the new address is watched for volume'),
  counter: z.enum(['messages', 'recipients']).default('messages').describe('What is counted from the new address: accepted messages or recipients'),
  volume_window: windowName().default('5m').describe('Window the counter is read over'),
  above: z.number().int().positive().default(20).describe('Fires when the new address reaches this many within volume_window'),
})

const egressRule = z.strictObject({
  ...common,
  dimension: z.literal('address').default('address').describe('The egress address'),
  kind: z.literal('egress_listed').describe("The relay's own egress address listed on a block list (from the egress watch)"),
})

export const ruleSchema = z.discriminatedUnion('kind', [
  volumeRule,
  riseRule,
  refusalRatioRule,
  bounceRule,
  fanoutRule,
  spfRelayRule,
  authBurstRule,
  authCrackedRule,
  authCrackedSendingRule,
  egressRule,
])
export type AlertRule = z.output<typeof ruleSchema>
export type RuleKind = AlertRule['kind']

/**
 * The rules of a class not listed in `alerts.rules`: a bot, a backscatterer, a cracked account, a
 * listed egress. A cracked account's new address is held, never the account: its owner keeps sending.
 */
export const DEFAULT_RULES: z.input<typeof ruleSchema>[] = [
  { name: 'message_burst', kind: 'volume', counter: 'messages', window: '5m', above: 500, severity: 'critical', action: { penalty_box: '1h' } },
  { name: 'refusal_burst', kind: 'volume', counter: 'refused', window: '5m', above: 100, severity: 'warning' },
  { name: 'volume_rise', kind: 'rise', severity: 'warning' },
  { name: 'refusal_ratio', kind: 'refusal_ratio', severity: 'warning' },
  { name: 'backscatter', kind: 'bounce', severity: 'warning' },
  { name: 'domain_fanout', kind: 'domain_fanout', severity: 'warning' },
  { name: 'auth_burst', kind: 'auth_burst', severity: 'warning' },
  { name: 'auth_cracked', kind: 'auth_cracked', severity: 'critical' },
  { name: 'auth_cracked_sending', kind: 'auth_cracked_sending', severity: 'critical', action: { penalty_box: '4h' } },
  { name: 'egress_listed', kind: 'egress_listed', severity: 'critical' },
]

const webhookSchema = z.strictObject({
  name: ruleName().describe('Name in logs and metrics (sender label)'),
  url: z.url({ protocol: /^https?$/ }).describe('Receiver URL: a JSON POST per incident event'),
  secret_file: z
    .string()
    .describe('File whose first line is the signing secret (Standard Webhooks: whsec_<base64>, or any text used as it is)'),
  timeout: duration().prefault('10s').describe('Longest a POST may take before it counts as failed'),
})

const smtpTarget = z.strictObject({
  host: host().describe('SMTP server to hand the e-mail to'),
  port: port().default(25).describe('TCP port'),
  tls: z.enum(['none', 'opportunistic', 'required', 'implicit']).default('opportunistic').describe('As for next hops'),
})

const emailSchema = z.strictObject({
  smtp: smtpTarget.describe('Where abuse-report e-mails are handed over'),
  from: z.email().describe('From address of the reports'),
  to: z.array(z.email()).min(1).describe('The abuse desk (its ticket system address)'),
  reporter_org: z.string().min(1).default('smarthost-guard').describe('Organisation named in the XARF report'),
})

const requestTrackerSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/ }).describe('Base URL of RT, e.g. https://rt.example.net (REST 2 is under /REST/2.0)'),
  queue: z.string().min(1).default('General').describe('Queue new tickets go to'),
  token_file: z.string().describe('File whose first line is an RT auth token (RT 5: Settings → Auth Tokens)'),
  timeout: duration().prefault('15s').describe('Longest one RT call may take'),
})

/** Top-level `alerts`. */
export const alertsSchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe('Evaluate rules and deliver incidents'),
    evaluate_every: duration().prefault('5s').describe('How often rules are evaluated'),
    candidates: z
      .number()
      .int()
      .positive()
      .default(50)
      .describe('Busiest client keys per dimension and counter looked at in each evaluation'),
    update_every: duration().prefault('10m').describe('An open incident with new evidence is delivered again at most this often'),
    resolve_after: duration().prefault('30m').describe('An incident is resolved once its rule has not fired for this long'),
    keep_resolved: duration().prefault('7d').describe('Resolved incidents stay listed this long'),
    dir: z
      .string()
      .min(1)
      .default('alerts')
      .describe('Memory backend: folder of the outbox journal and the incidents file (kept across restarts), relative to the policy file'),
    retry: z
      .strictObject({
        min: duration().prefault('1s').describe('First retry after a failed delivery'),
        max: duration().prefault('5m').describe('Longest wait between retries (doubling from min)'),
      })
      .prefault({})
      .describe('Retries of a failed delivery: for ever, with exponential backoff'),
    lease: duration().prefault('15s').describe('Redis backend: the evaluating node holds a lease this long, renewed at each evaluation; when it stops, another node takes over after this'),
    webhooks: z.array(webhookSchema).default([]).describe('Webhook receivers, each gets every incident event'),
    email: emailSchema.optional().describe('Abuse-report e-mail (a text part and an XARF 4.0.0 JSON part) to the abuse desk'),
    request_tracker: requestTrackerSchema.optional().describe('Request Tracker: one ticket per incident, updates as comments'),
    contacts: z
      .record(z.string().regex(/^(address|subnet|user|sender_domain):.+$/, 'a client key such as address:192.0.2.7'), z.email())
      .default({})
      .describe('Customer contact per client key, for rules with action.notify_customer'),
    rules: z
      .record(className(), z.array(ruleSchema))
      .default({})
      .describe('Rules per client class; a class not listed takes `default`, and without `default` the built-in rules'),
  })
  .refine((a) => a.lease >= 2 * a.evaluate_every, { message: 'lease must be at least twice evaluate_every, or it lapses between renewals', path: ['lease'] })
  .optional()
  .describe('Anomaly rules, incidents and their delivery; without this section nothing is evaluated or sent')

export type AlertsConfig = NonNullable<z.output<typeof alertsSchema>>
export type WebhookConfig = z.output<typeof webhookSchema>
export type EmailConfig = z.output<typeof emailSchema>
export type RequestTrackerConfig = z.output<typeof requestTrackerSchema>

/** The built-in rules, parsed. */
export const defaultRules = (): AlertRule[] => DEFAULT_RULES.map((r) => ruleSchema.parse(r))
