import { startDnsServer } from '../../helpers/dns-server.js'
import type { NameEntry, ZoneData } from '../../helpers/dns-server.js'
import { everyCheckNames } from '../every-check.js'

// The benchmark's DNS server in a process of its own, so that its CPU is not the relay's or
// the load client's: dns2's server (the one the tests use) on 127.0.0.1, serving
//  - `<i>.names.bench.test` A records for the resolver comparison,
//  - DNSBL zones `bl<k>.bench.test` with the RFC 5782 test points and a few listed addresses,
//  - the client's names and SPF records for the relay with every check on (every-check.ts).
// It prints "PORT <n>" when ready and answers "count" messages with the queries received.

const ZONES = 8

function benchZones(): ZoneData {
  const names: Record<string, NameEntry> = {}
  for (let i = 0; i < 5000; i++) names[`${i}.names.bench.test`] = { A: [`192.0.2.${i % 250}`] }
  for (let k = 1; k <= ZONES; k++) {
    names[`2.0.0.127.bl${k}.bench.test`] = { A: ['127.0.0.2'] }
    // One listed address per zone, in 127.200.0.0/16: the benchmark's clients never use it.
    names[`${k}.0.200.127.bl${k}.bench.test`] = { A: ['127.0.0.2'] }
  }
  return { ttl: 300, negative_ttl: 300, names: { ...names, ...everyCheckNames() } }
}

const server = await startDnsServer({ extra: [benchZones()], record: false })
process.on('message', (m) => {
  if (m === 'count') process.send?.({ queries: server.total })
  if (m === 'stop') void server.close().then(() => process.exit(0))
})
process.stdout.write(`PORT ${server.port}\n`)
