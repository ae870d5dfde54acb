import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'
import { startZoneServer } from '../../src/dns/zone-server.js'
import type { ZoneData, ZoneServer } from '../../src/dns/zone-server.js'

// The tests' DNS server is the product's zone server (src/dns/zone-server.ts) on 127.0.0.1,
// serving the fixture zones of test/fixtures/zones/ by name, plus zones a test builds.

export type { DnsQuery, Failure, NameEntry, ZoneData } from '../../src/dns/zone-server.js'

/** The running server. */
export type TestDnsServer = ZoneServer

const ZONES = fileURLToPath(new URL('../fixtures/zones/', import.meta.url))

/** Reads test/fixtures/zones/<name>.yaml for each name. */
export async function loadZones(names: readonly string[]): Promise<ZoneData[]> {
  return Promise.all(names.map(async (n) => parse(await readFile(`${ZONES}${n}.yaml`, 'utf8')) as ZoneData))
}

/** Starts a DNS server serving the given zone files (by name) and extra zones. */
export async function startDnsServer(
  opts: { zones?: readonly string[]; extra?: ZoneData[]; record?: boolean } = {},
): Promise<TestDnsServer> {
  const zones = [...(await loadZones(opts.zones ?? [])), ...(opts.extra ?? [])]
  return startZoneServer({ zones, record: opts.record })
}
