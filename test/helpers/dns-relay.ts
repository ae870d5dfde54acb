import { after, before } from 'node:test'
import { startDnsServer } from './dns-server.js'
import type { TestDnsServer } from './dns-server.js'
import { startRelay, testPolicy } from './relay.js'
import type { PolicyTree, TestRelay } from './relay.js'
import { startSink } from './sink.js'
import type { Sink, SinkOptions } from './sink.js'

/** The lists of test/fixtures/zones/dnsbl.yaml, as a policy's dns_lists.lists. */
export const TEST_LISTS = {
  zen: {
    zone: 'zen.dnsbl.test',
    codes: {
      '127.0.0.2': 'SBL',
      '127.0.0.3': 'CSS',
      '127.0.0.4-127.0.0.7': 'XBL',
      '127.0.0.9': 'DROP',
      '127.0.0.10-127.0.0.11': 'PBL',
    },
    url: 'https://lists.test/zen?q={query}',
  },
  world: { zone: 'world.dnsbl.test' },
  silent: { zone: 'silent.dnsbl.test' },
  slow: { zone: 'slow.dnsbl.test' },
  dead: { zone: 'dead.dnsbl.test' },
  wl: { zone: 'wl.dnswl.test', kind: 'allow', codes: { '127.0.*.3': 'HI', '127.0.*.2': 'MED', '127.0.*.1': 'LOW', '127.0.*.0': 'NONE' } },
  dbl: { zone: 'dbl.dnsbl.test', type: 'domain', codes: { '127.0.1.2-127.0.1.99': 'DBL' }, url: 'https://lists.test/dbl?q={query}' },
}

/**
 * A DNS server serving `zones`, a sink, and a relay whose dns.servers is that server, started
 * before the tests of the enclosing suite and closed after them. `patch` edits the policy;
 * `opts` are startRelay's (files beside the policy, instances).
 */
export function relayWithDns(
  zones: readonly string[],
  patch: (p: PolicyTree) => void,
  sinkOptions: SinkOptions = {},
  opts: Parameters<typeof startRelay>[1] = {},
): { readonly dns: TestDnsServer; readonly sink: Sink; readonly relay: TestRelay } {
  let dns: TestDnsServer | undefined
  let sink: Sink | undefined
  let relay: TestRelay | undefined
  before(async () => {
    dns = await startDnsServer({ zones })
    sink = await startSink(sinkOptions)
    const server = dns.server
    relay = await startRelay(
      testPolicy([sink.port], (p) => {
        p.dns = { servers: [server], timeout: '300ms', tries: 1 }
        patch(p)
      }),
      opts,
    )
  })
  after(async () => {
    await relay?.close()
    await sink?.close()
    await dns?.close()
  })
  const need = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`${what} is not started yet`)
    return v
  }
  return {
    get dns() {
      return need(dns, 'the DNS server')
    },
    get sink() {
      return need(sink, 'the sink')
    },
    get relay() {
      return need(relay, 'the relay')
    },
  }
}
