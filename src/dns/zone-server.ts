import net from 'node:net'
import dns2 from 'dns2'

const { Packet, TCPServer, UDPServer } = dns2

// A real DNS server on loopback (dns2's UDP and TCP servers on one port) serving declarative
// zones, in the manner of mailauth's test/helpers/dns-zone.js: a name that is absent is
// NXDOMAIN, a type that is absent is NODATA (both with an SOA, for negative caching), and an
// entry can instead say SERVFAIL, REFUSED or TIMEOUT (never answers). Every query is recorded.
// The demo (smarthost-guard demo) and the tests serve their zones with it; it is never meant
// to answer anyone but the relay on the same host.

/** What a failing entry does instead of answering. */
export type Failure = 'SERVFAIL' | 'REFUSED' | 'TIMEOUT'

/** The records of one name, by type; `ttl` and `delay_ms` apply to its answers. */
export interface NameEntry {
  ttl?: number
  /** Answer this much later (a slow list). */
  delay_ms?: number
  A?: string[] | Failure
  AAAA?: string[] | Failure
  /** Each record is a string or its character-strings; strings over 255 bytes are split. */
  TXT?: (string | string[])[] | Failure
  MX?: { exchange: string; priority: number }[] | Failure
  PTR?: string[] | Failure
  CNAME?: string
}

/** A zone file: default TTLs and the names it holds (`*.suffix` is a wildcard). */
export interface ZoneData {
  ttl?: number
  negative_ttl?: number
  names: Record<string, NameEntry | Failure>
}

/** One query the server received. */
export interface DnsQuery {
  name: string
  type: string
  transport: 'udp' | 'tcp'
}

/** The running server. */
export interface ZoneServer {
  port: number
  /** "ADDRESS:PORT", for the policy's dns.servers. */
  server: string
  /** Every query received, unless started with `record: false`. */
  queries: DnsQuery[]
  /** How many queries were received. */
  readonly total: number
  /** Queries received for `name` (and `type`, if given). */
  count(name: string, type?: string): number
  /** Adds or replaces a name; null removes it (NXDOMAIN from then on). */
  define(name: string, entry: NameEntry | Failure | null): void
  /** Forgets the queries received so far. */
  reset(): void
  close(): Promise<void>
}

const TYPE_NAMES = new Map<number, string>(Object.entries(Packet.TYPE).map(([k, v]) => [v, k]))

/**
 * Starts a DNS server on `address` (default 127.0.0.1), UDP and TCP on one free port, serving
 * `zones`; a name defined twice is an error.
 */
export async function startZoneServer(opts: { zones: readonly ZoneData[]; record?: boolean; address?: string }): Promise<ZoneServer> {
  const zones = opts.zones
  const address = opts.address ?? '127.0.0.1'
  const names = new Map<string, { entry: NameEntry | Failure; ttl: number; negativeTtl: number }>()
  for (const z of zones) {
    for (const [name, entry] of Object.entries(z.names)) {
      const key = name.toLowerCase()
      if (names.has(key)) throw new Error(`the zones define ${name} twice`)
      names.set(key, { entry, ttl: z.ttl ?? 300, negativeTtl: z.negative_ttl ?? 60 })
    }
  }
  const queries: DnsQuery[] = []
  let total = 0
  const find = (name: string) => {
    const exact = names.get(name)
    if (exact) return exact
    const labels = name.split('.')
    for (let i = 1; i < labels.length; i++) {
      const wild = names.get(`*.${labels.slice(i).join('.')}`)
      if (wild) return wild
    }
    return undefined
  }

  const handle: Handler = (request, send, client) => {
    const q = request.questions[0]
    if (!q) return
    const name = q.name.toLowerCase()
    const type = TYPE_NAMES.get(q.type) ?? String(q.type)
    total++
    if (opts.record !== false) queries.push({ name, type, transport: client instanceof net.Socket ? 'tcp' : 'udp' })
    const found = find(name)
    const response = Packet.createResponseFromRequest(request)
    response.header.ra = 1
    const soa = () => {
      const ttl = found?.negativeTtl ?? 60
      response.authorities.push(
        Object.assign(new Packet.Resource(name.split('.').slice(-1)[0] ?? 'test', Packet.TYPE.SOA, Packet.CLASS.IN, ttl), {
          primary: 'ns.test',
          admin: 'hostmaster.test',
          serial: 1,
          refresh: 3600,
          retry: 600,
          expiration: 86400,
          minimum: ttl,
        }),
      )
    }
    const entry = found?.entry
    const records = typeof entry === 'object' ? entry[type as keyof NameEntry] : undefined
    const failure = typeof entry === 'string' ? entry : typeof records === 'string' ? (records as Failure) : null
    if (failure === 'TIMEOUT') return
    if (failure) {
      response.header.rcode = failure === 'SERVFAIL' ? 2 : 5
    } else if (!found || typeof entry !== 'object') {
      response.header.rcode = 3
      soa()
    } else {
      const ttl = entry.ttl ?? found.ttl
      if (entry.CNAME && type !== 'CNAME') {
        response.answers.push(Object.assign(new Packet.Resource(name, Packet.TYPE.CNAME, Packet.CLASS.IN, ttl), { domain: entry.CNAME }))
        const target = find(entry.CNAME.toLowerCase())?.entry
        const followed = typeof target === 'object' ? target[type as keyof NameEntry] : undefined
        if (Array.isArray(followed)) addRecords(response, entry.CNAME, type, followed, ttl)
        else soa()
      } else if (Array.isArray(records) || (type === 'CNAME' && entry.CNAME)) {
        addRecords(response, name, type, Array.isArray(records) ? records : [entry.CNAME], ttl)
      } else {
        soa()
      }
    }
    const delay = typeof entry === 'object' ? entry.delay_ms : undefined
    const reply = () => void send(response).catch(() => undefined)
    if (delay) setTimeout(reply, delay)
    else reply()
  }

  const { udp, tcp, port } = await bindBoth(handle, address)
  return {
    port,
    server: `${address}:${port}`,
    queries,
    get total() {
      return total
    },
    count: (name, type) => queries.filter((q) => q.name === name.toLowerCase() && (!type || q.type === type)).length,
    define(name, entry) {
      if (entry === null) names.delete(name.toLowerCase())
      else names.set(name.toLowerCase(), { entry, ttl: 300, negativeTtl: 60 })
    },
    reset() {
      queries.length = 0
      total = 0
    },
    close: async () => {
      await new Promise<void>((resolve) => udp.close(() => resolve()))
      await new Promise<void>((resolve) => tcp.close(() => resolve()))
    },
  }
}

function addRecords(response: dns2.Packet, name: string, type: string, values: readonly unknown[], ttl: number): void {
  const code = (Packet.TYPE as Record<string, number>)[type]
  if (code === undefined) return
  for (const value of values) {
    const r = new Packet.Resource(name, code, Packet.CLASS.IN, ttl)
    if (type === 'A' || type === 'AAAA') r.address = value as string
    else if (type === 'TXT') r.data = (Array.isArray(value) ? value : [value as string]).flatMap(chunks)
    else if (type === 'MX') Object.assign(r, value)
    else r.domain = value as string
    response.answers.push(r)
  }
}

/** A TXT character-string holds at most 255 bytes (RFC 1035 section 3.3). */
function chunks(text: string): string[] {
  const out: string[] = []
  for (let i = 0; i < text.length; i += 255) out.push(text.slice(i, i + 255))
  return out.length ? out : ['']
}

/**
 * UDP and TCP servers on one free port. The system picks a free UDP port; its TCP twin may be
 * taken by another server at that moment, so a clash is retried with another port.
 */
type Handler = (request: dns2.Packet, send: (r: dns2.Packet) => Promise<Buffer>, client: unknown) => void

async function bindBoth(handle: Handler, address: string): Promise<{ udp: InstanceType<typeof UDPServer>; tcp: InstanceType<typeof TCPServer>; port: number }> {
  for (let attempt = 1; ; attempt++) {
    const udp = new UDPServer({ type: 'udp4' })
    udp.on('request', handle)
    await udp.listen(0, address)
    const port = udp.address().port
    const tcp = new TCPServer()
    tcp.on('request', handle)
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject)
        tcp.listen(port, address, () => resolve())
      })
      return { udp, tcp, port }
    } catch (err) {
      await new Promise<void>((resolve) => udp.close(() => resolve()))
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 20) throw err
    }
  }
}
