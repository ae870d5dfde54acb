// Microbenchmark of two-sided outbound SPF: what evaluating the sender domain for the client as
// well as for the egress addresses costs per message, with the relay's caching resolver warm
// (the steady state: a customer's domain is looked up once per TTL, not per message).
// `node --import tsx test/bench/spf-sides.ts`
import { createResolver } from '../../src/dns/resolver.js'
import { evaluateSpf } from '../../src/dns/spf.js'
import { startDnsServer } from '../helpers/dns-server.js'

const EGRESS = ['127.0.0.25', '127.0.0.26']
const CLIENT = '127.0.8.1'
const ROUNDS = 5
const MESSAGES = 2000

const dns = await startDnsServer({ zones: ['spf'] })
const resolver = createResolver({ servers: [dns.server], timeoutMs: 500, tries: 1 })
const evaluate = (sender: string, ip: string) => evaluateSpf(resolver, { sender, identity: 'mailfrom', ip, helo: 'relay.test', hostname: 'relay.test' }, 4000)

/**
 * CPU µs per message for `ips`, sequential messages, each with its evaluations at once (as the
 * check runs them). CPU time rather than wall time: the shared machine's load moves the latter.
 */
async function perMessage(sender: string, ips: readonly string[]): Promise<number> {
  for (let i = 0; i < 200; i++) await Promise.all(ips.map((ip) => evaluate(sender, ip)))
  const started = process.cpuUsage()
  for (let i = 0; i < MESSAGES; i++) await Promise.all(ips.map((ip) => evaluate(sender, ip)))
  const used = process.cpuUsage(started)
  return (used.user + used.system) / MESSAGES
}

const rows: string[] = []
for (const [sender, what] of [
  ['billing@office.test', 'office.test: one ip4 mechanism, -all'],
  ['office@customer-spf.test', 'customer-spf.test: include, mx, a (4 lookups)'],
] as const) {
  const egress: number[] = []
  const both: number[] = []
  for (let r = 0; r < ROUNDS; r++) {
    egress.push(await perMessage(sender, EGRESS))
    both.push(await perMessage(sender, [CLIENT, ...EGRESS]))
  }
  const best = (xs: number[]) => Math.min(...xs)
  const e = best(egress)
  const b = best(both)
  rows.push(`| ${what} | ${e.toFixed(0)} | ${b.toFixed(0)} | +${(b - e).toFixed(0)} | ${(b / e).toFixed(2)} |`)
}
await dns.close()
process.stdout.write(
  `CPU per message, resolver cache warm, best of ${ROUNDS} runs of ${MESSAGES} messages (µs)\n` +
    '| sender domain | egress only (2 addresses) | client + egress | extra | ratio |\n|---|--:|--:|--:|--:|\n' +
    `${rows.join('\n')}\n`,
)
