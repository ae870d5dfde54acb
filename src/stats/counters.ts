/**
 * What the relay counts per client key, per time bucket. The order is the layout of a bucket
 * (one Float64Array slot each), so append only.
 */
export const COUNTERS = [
  'connections',
  'transactions',
  'accepted',
  'refused',
  'tempfailed',
  'recipients',
  'null_sender',
  'bytes',
  'auth_successes',
  'auth_failures',
  // Messages whose sender domain's SPF passes for the client but fails for our egress (SPF_RELAY_NOT_AUTHORIZED).
  'spf_relay_not_authorized',
] as const
export type CounterName = (typeof COUNTERS)[number]

/** Why a message or session was refused, as the abuse desk groups it. */
export const REFUSAL_REASONS = ['limit', 'penalty_box', 'dnsbl', 'spf', 'helo_rdns', 'header', 'content', 'next_hop', 'access', 'auth', 'other'] as const
export type RefusalReason = (typeof REFUSAL_REASONS)[number]

/** Slot of each counter, then of each refusal reason, in a bucket. */
export const SLOT: Readonly<Record<CounterName | `refused_${RefusalReason}`, number>> = Object.fromEntries(
  [...COUNTERS, ...REFUSAL_REASONS.map((r) => `refused_${r}` as const)].map((name, i) => [name, i]),
) as Record<CounterName | `refused_${RefusalReason}`, number>

/** Slots in one bucket. */
export const BUCKET_SLOTS = COUNTERS.length + REFUSAL_REASONS.length

// Check ids (`<stage>.<name>`) grouped by what an abuse desk asks about; first match wins.
const REASON_OF: readonly [RegExp, RefusalReason][] = [
  [/penalty/, 'penalty_box'],
  [/rate|limit|concurren|fanout|failures|recipient_count|message_size/, 'limit'],
  [/dnsbl|dnswl|dns_list/, 'dnsbl'],
  [/spf/, 'spf'],
  [/helo|rdns/, 'helo_rdns'],
  [/content|yara|scan/, 'content'],
  [/^data\./, 'header'],
  [/access|relay_auth|local_recipient/, 'access'],
  [/next_hop/, 'next_hop'],
  [/^auth\b/, 'auth'],
]

/** The refusal reason of the check that refused (e.g. `connect.dnsbl` → `dnsbl`). */
export function refusalReason(check: string | null | undefined): RefusalReason {
  if (!check) return 'other'
  for (const [re, reason] of REASON_OF) if (re.test(check)) return reason
  return 'other'
}
