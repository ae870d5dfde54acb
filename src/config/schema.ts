import { isIPv4 } from 'node:net'
import { z } from 'zod'
import { CHECKS } from '../checks/index.js'
import { classesSchema } from '../classes/schema.js'
import { alertsSchema } from '../alerts/schema.js'
import { penaltyBoxSchema, stateSchema, tarpitSchema } from '../limits/schema.js'
import { STAGES } from '../pipeline/types.js'
import { addedHeadersSchema } from './added-headers-schema.js'
import { checkEntrySchema } from './check-entry.js'
import { checkDnsListReferences } from './dns-lists-refs.js'
import { dnsListsSchema, egressSchema } from './dns-lists-schema.js'
import { dnsSchema } from './dns-schema.js'
import { quarantineSchema } from './quarantine-schema.js'
import { statsSchema } from '../stats/schema.js'
import { scanSchema } from './scan-schema.js'
import { byteSize, cidr, duration, host, hostname, ipAddress, port } from './units.js'

// The policy tree. Every object is strict (an unknown key is an error, never silently
// ignored), every field says what it means in .describe(), and defaults live here only.
// `smarthost-guard explain-config` prints these descriptions.

/** A count of connections, or a percentage of the listener's ("20%"). */
const customerReserve = () =>
  z
    .union([z.number().int().nonnegative(), z.string().regex(/^\d{1,3}%$/, 'expected a count such as 100 or a percentage such as "20%"')])
    .transform((v, ctx) => {
      if (typeof v === 'number') return { count: v }
      const percent = Number(v.slice(0, -1))
      if (percent > 100) ctx.addIssue({ code: 'custom', message: `a percentage above 100: ${v}` })
      return { percent }
    })

/** The connections of a listener with `total` that only customers may use. */
export function reservedConnections(reserve: { count: number } | { percent: number }, total: number): number {
  return Math.min(total, 'count' in reserve ? reserve.count : Math.floor((total * reserve.percent) / 100))
}

const listenerSchema = z
  .strictObject({
    name: z
      .string()
      .regex(/^[a-z0-9_-]+$/, 'use lower case letters, digits, - and _')
      .describe('Name used in logs, metrics and the Received header'),
    address: ipAddress().describe('Address to listen on'),
    port: port().describe('TCP port; 0 picks a free one (tests)'),
    tls: z
      .enum(['none', 'starttls', 'implicit'])
      .default('starttls')
      .describe('none: plain only; starttls: plain with STARTTLS (ports 25/587); implicit: TLS from the first byte (port 465)'),
    cert: z.string().optional().describe('PEM certificate chain; without cert/key an ephemeral self-signed one is made'),
    key: z.string().optional().describe('PEM private key for cert'),
    auth: z
      .boolean()
      .default(false)
      .describe('Offer SMTP AUTH (PLAIN, LOGIN); it is only ever offered after TLS is up'),
    proxy_from: z
      .array(cidr())
      .default([])
      .describe('Load balancers (addresses or CIDR blocks) whose connections must start with a PROXY protocol v1 or v2 header giving the client address; a header from any other address is refused'),
    max_connections: z.number().int().positive().optional().describe('Overrides limits.connections_per_listener'),
    greet_pause: duration()
      .prefault('0s')
      .describe('Wait this long before the greeting (pregreet test, for MX listeners); at any pause, a client that talks before the greeting gets 554 5.5.0 and is disconnected'),
    forbid_unauth_pipelining: z
      .boolean()
      .optional()
      .describe('Refuse with 554 5.5.0 and disconnect a client that sends a command before the reply to the previous one where it may not pipeline: before the EHLO reply advertised PIPELINING, or after HELO (Postfix smtpd_forbid_unauth_pipelining); default: smtp.forbid_unauth_pipelining'),
  })
  .refine((l) => !(l.auth && l.tls === 'none'), {
    message: 'auth needs tls: starttls or implicit (passwords are never accepted in clear text)',
    path: ['auth'],
  })
  .refine((l) => (l.cert === undefined) === (l.key === undefined), {
    message: 'give both cert and key, or neither',
    path: ['cert'],
  })

const nextHopObject = z.strictObject({
  host: host().describe('Host name or address of the next hop'),
  port: port().default(25).describe('TCP port'),
  tls: z
    .enum(['none', 'opportunistic', 'required', 'implicit'])
    .default('opportunistic')
    .describe('opportunistic: STARTTLS when offered; required: refuse to send without STARTTLS; implicit: TLS on connect'),
  verify_cert: z
    .boolean()
    .optional()
    .describe('Verify the next hop certificate; default false for opportunistic, true otherwise'),
  auth: z
    .strictObject({
      user: z.string().min(1).describe('User name'),
      password_file: z.string().describe('File whose first line is the password'),
    })
    .optional()
    .describe('SMTP AUTH towards the next hop'),
  max_connections: z
    .number()
    .int()
    .positive()
    .default(20)
    .describe('Pooled connections to this hop; each carries one transaction from its first RCPT to the end of DATA, so this also caps the transactions in flight to it'),
  connect_timeout: duration().prefault('10s').describe('How long to wait for the TCP connection and greeting'),
  timeout: duration().prefault('2m').describe('How long to wait for any later reply'),
  data_reply_timeout: duration()
    .prefault('10m')
    .describe(
      'How long to wait for the reply to the final dot (RFC 5321 section 4.5.3.2.6: 10 minutes); without one the client gets 451 4.4.2 and the message is not sent to another hop, as it may have been delivered',
    ),
})

const HOST_PORT = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+):\d{1,5}$/i

const nextHopSchema = z.union(
  [
    z
      .string()
      .regex(HOST_PORT)
      .transform((s): z.input<typeof nextHopObject> => {
        const i = s.lastIndexOf(':')
        return { host: s.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(s.slice(i + 1)) }
      })
      // Through the object's schema as part of this parse, so a bad port is an issue with its key.
      .pipe(nextHopObject),
    nextHopObject,
  ],
  {
    error: (i) =>
      typeof i.input === 'string'
        ? `expected host:port, e.g. 127.0.0.1:2500 or [::1]:25, got ${JSON.stringify(i.input)}`
        : 'expected "host:port" or an object with host, port, tls…',
  },
)

const localDomainSchema = z.strictObject({
  valid: z.array(z.string().min(1)).optional().describe('Accepted local parts; absent means every local part'),
  invalid: z.array(z.string().min(1)).optional().describe('Refused local parts; wins over valid'),
  valid_file: z.string().optional().describe('File with one accepted local part per line, added to valid'),
  invalid_file: z.string().optional().describe('File with one refused local part per line, added to invalid'),
})

const instanceSchema = z.strictObject({
  hostname: hostname().optional().describe('Overrides the top-level hostname for this instance'),
  listeners: z.array(listenerSchema).min(1).describe('Where this instance accepts SMTP connections'),
  relay: z
    .strictObject({
      networks: z
        .array(cidr())
        .default([])
        .describe('Clients in these networks may relay to any recipient without AUTH (Postfix mynetworks)'),
      credentials: z
        .string()
        .optional()
        .describe('File of "user:$scrypt$..." lines (smarthost-guard passwd prints a hash); users may relay after AUTH'),
    })
    .prefault({})
    .describe('Who may send to non-local recipients'),
  local: z
    .strictObject({
      domains: z
        .record(hostname(), localDomainSchema.prefault({}))
        .default({})
        .describe('Domains this instance accepts mail for, each with optional recipient lists'),
      recipient_delimiter: z
        .string()
        .max(1)
        .default('+')
        .describe('Address extension delimiter: alice+tag is judged as alice; "" turns it off'),
    })
    .prefault({})
    .describe('Local domains and recipients (the inbound instance accepts only these)'),
  next_hops: z
    .array(nextHopSchema)
    .min(1)
    .describe('Where accepted mail goes, tried in order (failover); "host:port" or an object'),
  limits: z
    .strictObject({
      message_size: byteSize().prefault('25MiB').describe('Largest message accepted (SIZE); 552 5.3.4 above it'),
      recipients_per_message: z.number().int().positive().default(100).describe('452 4.5.3 above it'),
      connections_per_listener: z
        .number()
        .int()
        .positive()
        .default(500)
        .describe('Connections at once per listener, counted from accept (TLS handshakes included): 421 4.3.2 above it'),
      reserved_for_customers: customerReserve()
        .prefault('20%')
        .describe(
          'Part of each listener\u2019s connections (a count, or a percentage such as "20%") that only clients in relay.networks and clients that authenticated may use; everyone else shares the rest (421 4.3.2 when it is full). None is kept on a listener without AUTH of an instance without relay.networks (an MX)',
        ),
      outsider_connections_per_address: z
        .number()
        .int()
        .positive()
        .nullable()
        .default(20)
        .describe(
          'Connections at once per listener from one address outside relay.networks, until it authenticates; counted from accept, before TLS: 421 4.7.0 above it; null turns it off',
        ),
      greeting_timeout: duration()
        .prefault('20s')
        .describe('A client must send its first complete command within this long of the 220 greeting: 421 4.4.2 after it'),
      tls_handshake_timeout: duration()
        .prefault('10s')
        .describe('Longest a whole TLS handshake may take (implicit TLS and STARTTLS); the connection is closed after it'),
      idle_timeout: duration()
        .prefault('5m')
        .describe(
          'A client must complete each command line within this long of our previous reply (RFC 5321: 5m); bytes trickled in do not extend it',
        ),
      data_timeout: duration()
        .prefault('10m')
        .describe('Longest the message data may take, from the 354 reply to the final dot: 421 4.4.2 after it'),
      data_min_rate: z
        .number()
        .int()
        .nonnegative()
        .default(500)
        .describe(
          'Slowest message data rate, bytes/s (Postfix smtpd_min_data_rate): DATA starts with idle_timeout of time, each byte received adds 1/data_min_rate s, never beyond idle_timeout; 421 4.4.2 when it runs out; 0 turns it off',
        ),
      command_timeout: duration().prefault('60s').describe('Longest the checks of one command may take before 451 4.3.0'),
      drain_timeout: duration().prefault('30s').describe('On SIGTERM, how long in-flight transactions may finish'),
    })
    .prefault({})
    .describe('Per-listener limits and timeouts'),
  smtp: z
    .strictObject({
      banner: z.string().default('').describe('Text after "ESMTP" in the greeting'),
      bare_line_endings: z
        .enum(['normalize', 'reject'])
        .default('normalize')
        .describe('Bare CR or LF in DATA: normalize to CRLF before relaying, or reject with 550 5.6.11'),
      hard_error_limit: z
        .number()
        .int()
        .positive()
        .max(1000)
        .default(20)
        .describe(
          'Refusals (4xx/5xx replies, ours or for bad commands; not 4.3.x/4.4.x faults of ours) one session may get; the next command gets 421 4.7.0 and the connection closes. A relayed message starts the count again (Postfix smtpd_hard_error_limit)',
        ),
      auth_failure_limit: z
        .number()
        .int()
        .positive()
        .default(3)
        .describe('Failed AUTH attempts in one session; the last is answered 421 4.7.0 and the connection closed'),
      logged_refusals: z
        .number()
        .int()
        .nonnegative()
        .default(10)
        .describe('Refusal log lines per session (refused transactions, failed AUTH); further ones are counted in one line at the end'),
      forbid_unauth_pipelining: z
        .boolean()
        .optional()
        .describe('Default of the listeners\u2019 forbid_unauth_pipelining; unset: true on the outbound instance (customer listeners), false on inbound'),
    })
    .prefault({})
    .describe('Protocol behaviour'),
  scoring: z
    .strictObject({
      tempfail_at: z.number().nullable().default(null).describe('Score at which a transaction is tempfailed (451 4.7.1)'),
      reject_at: z.number().nullable().default(null).describe('Score at which a transaction is rejected (550 5.7.1)'),
      decide_at: z
        .array(z.enum(STAGES))
        .default(['rcpt', 'data'])
        .describe('Stages at which the score is compared with the thresholds'),
    })
    .prefault({})
    .describe('Turning the checks\u2019 added scores into decisions'),
  reply_url: z
    .string()
    .nullable()
    .optional()
    .describe('Overrides the top-level reply_url for this instance'),
  admin: z
    .strictObject({
      address: ipAddress().describe('Admin HTTP address of this instance (/metrics, /healthz, /readyz, /api/…)'),
      port: port().describe('Admin HTTP port of this instance; give each instance its own when both run on one host'),
    })
    .optional()
    .describe('Admin HTTP listener when this instance runs alone (serve --instance)'),
  added_headers: addedHeadersSchema,
  scan: scanSchema,
  quarantine: quarantineSchema,
  checks: z
    .array(checkEntrySchema(CHECKS))
    .default([])
    .describe('Policy checks, each `check: <id>` with its options (see # Checks), run in this order within their stage after the core checks'),
  classes: classesSchema,
  penalty_box: penaltyBoxSchema,
  tarpit: tarpitSchema,
}).superRefine((inst, ctx) => {
  // Listeners of one instance share a process: two that cannot both bind are an error now,
  // not at start. (Instances may share addresses: in production they are separate processes,
  // often on separate hosts; run together, a clash is reported at start as RELAY_ERR_LISTEN.)
  inst.listeners.forEach((l, i) => {
    const j = inst.listeners.findIndex((o, k) => k < i && bindsClash(o, l))
    if (j >= 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['listeners', i, 'port'],
        message: `${l.address}:${l.port} cannot be bound together with listeners[${j}] (${inst.listeners[j]?.address}:${l.port})`,
      })
    }
  })
  // Refinements run on a tree with issues too: a reserve that did not parse is reported already.
  const reserve = inst.limits.reserved_for_customers as unknown
  inst.listeners.forEach((l) => {
    const total = l.max_connections ?? inst.limits.connections_per_listener
    if (typeof reserve !== 'object' || reserve === null) return
    if (l.auth && reservedConnections(inst.limits.reserved_for_customers, total) >= total) {
      ctx.addIssue({
        code: 'custom',
        path: ['limits', 'reserved_for_customers'],
        message: `reserves all ${total} connections of listener ${l.name} for customers, but clients that have yet to AUTH are not customers yet`,
      })
    }
  })
  inst.listeners.forEach((l, i) => {
    if (l.auth && !inst.relay.credentials) {
      ctx.addIssue({
        code: 'custom',
        path: ['listeners', i, 'auth'],
        message: 'auth is offered but relay.credentials names no credentials file',
      })
    }
  })
})

/** Two sockets on the same port clash if their addresses are equal or one is a wildcard covering the other. */
function bindsClash(a: { address: string; port: number }, b: { address: string; port: number }): boolean {
  if (a.port !== b.port || a.port === 0) return false
  if (a.address === b.address) return true
  const wildcard = (x: string) => x === '0.0.0.0' || x === '::'
  const v4 = (x: string) => isIPv4(x)
  // "::" is dual-stack on Linux by default, so it covers IPv4 addresses as well.
  const covers = (w: string, x: string) => w === '::' || (w === '0.0.0.0' && v4(x))
  return (wildcard(a.address) && covers(a.address, b.address)) || (wildcard(b.address) && covers(b.address, a.address))
}

/** The whole policy tree (policies/relay.yaml). */
export const policySchema = z
  .strictObject({
    hostname: hostname()
      .optional()
      .describe('Our name in the greeting, the Received header and the EHLO to next hops; default: the system host name'),
    reply_url: z
      .string()
      .nullable()
      .default(null)
      .describe('URL appended to every refusal; {code}, {enhanced}, {reason} and {session} are filled in'),
    pid_file: z
      .string()
      .optional()
      .describe(
        'File serve writes its process id to (atomically, mode 0644) and removes at a clean exit, relative to the policy file; smarthost-guard reload signals the process it names. With serve --instance NAME the name gets -NAME before .pid. Absent: no pid file',
      ),
    admin: z
      .strictObject({
        address: ipAddress().default('127.0.0.1').describe('Admin HTTP address (/metrics, /healthz, /readyz)'),
        port: port().default(9465).describe('Admin HTTP port'),
        token_file: z
          .string()
          .optional()
          .describe(
            'File whose first line is the bearer token of the admin API (/api/…), relative to the policy file; serve creates it with a random token (mode 0600) when it does not exist, and the CLI reads it. Absent: every API call is refused',
          ),
      })
      .prefault({})
      .describe('Admin HTTP listener'),
    dns: dnsSchema,
    dns_lists: dnsListsSchema,
    egress: egressSchema,
    state: stateSchema,
    stats: statsSchema,
    alerts: alertsSchema,
    log: z
      .strictObject({
        level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info').describe('Lowest level logged'),
        format: z
          .enum(['json', 'text'])
          .default('json')
          .describe(
            'Log lines on stdout: json (one JSON object per line, its msg the summary) or text (one Postfix-style line per event: time, level, instance/listener, session or transaction id, summary)',
          ),
      })
      .prefault({})
      .describe('Logging'),
    instances: z
      .strictObject({
        outbound: instanceSchema.optional().describe('customer submission and relaying, heavy abuse checks'),
        inbound: instanceSchema.optional().describe('MX traffic from the internet for the local domains, light UCE checks'),
      })
      .refine((i) => i.outbound ?? i.inbound, 'define at least one of outbound and inbound')
      .describe('The two instances, each with its own listeners, policy, limits and next hops; at least one'),
  })
  .superRefine(checkDnsListReferences)
export type Policy = z.output<typeof policySchema>
export type InstanceName = 'outbound' | 'inbound'
export type InstanceConfig = z.output<typeof instanceSchema>
export type ListenerConfig = z.output<typeof listenerSchema>
export type SmtpConfig = InstanceConfig['smtp']
export type NextHopConfig = z.output<typeof nextHopObject>
export const INSTANCE_NAMES: readonly InstanceName[] = ['outbound', 'inbound']
