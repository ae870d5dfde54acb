import dgram from 'node:dgram'
import dns from 'node:dns'
import net from 'node:net'

// Loaded before every test file (package.json: node --import ./test/helpers/deny-dns.ts):
// tests never query a real DNS server. A query to a resolver that is not on loopback throws
// at once, is printed, and fails the test file at exit even when the code under test
// swallowed the error (mailauth's test/fixtures/deny-dns.js does the same for its tests).

const strays: string[] = []

const isLoopback = (address: string) =>
  /^127\./.test(address) || address === '::1' || /^::ffff:127\./i.test(address) || address === 'localhost'

function deny(what: string): never {
  const message = `a test sent a DNS query to a real server (${what}); tests use test/helpers/dns-server.ts on loopback`
  strays.push(message)
  process.stderr.write(`\n*** ${message}\n`)
  throw new Error(message)
}

/** The stray queries seen so far; taking them means the test expected them (the guard's own test). */
export function takeStrayQueries(): string[] {
  return strays.splice(0)
}

process.on('exit', () => {
  if (strays.length) process.exitCode = 1
})

// UDP: the relay's resolver connects its socket to the server; other clients send to it.
/* eslint-disable @typescript-eslint/unbound-method -- wrapped and called with the socket as `this` */
const udpConnect = dgram.Socket.prototype.connect
const udpSend = dgram.Socket.prototype.send
dgram.Socket.prototype.connect = function guardedConnect(this: dgram.Socket, ...args: unknown[]) {
  const [port, address] = args
  if (typeof address === 'string' && !isLoopback(address)) deny(`UDP ${address}:${String(port)}`)
  return (udpConnect as (...a: unknown[]) => void).apply(this, args)
}
dgram.Socket.prototype.send = function guardedSend(this: dgram.Socket, ...args: unknown[]) {
  const address = args.find((a, i) => i > 0 && typeof a === 'string' && net.isIP(a) !== 0) as string | undefined
  if (address && !isLoopback(address)) deny(`UDP ${address}`)
  return (udpSend as (...a: unknown[]) => void).apply(this, args)
} as typeof udpSend

// TCP to port 53 (the fallback for truncated answers).
const tcpConnect = net.Socket.prototype.connect
net.Socket.prototype.connect = function guardedTcpConnect(this: net.Socket, ...args: unknown[]) {
  const first = args[0]
  const opts = (Array.isArray(first) ? first[0] : first) as { port?: unknown; host?: unknown } | number
  const port = typeof opts === 'object' && opts !== null ? Number(opts.port) : Number(opts)
  const host = typeof opts === 'object' && opts !== null ? opts.host : args[1]
  if (port === 53 && typeof host === 'string' && !isLoopback(host)) deny(`TCP ${host}:53`)
  return (tcpConnect as (...a: unknown[]) => net.Socket).apply(this, args)
}
/* eslint-enable @typescript-eslint/unbound-method */

// node's c-ares resolvers (and mailauth's default, dns.promises.resolve) use the system's
// servers unless told otherwise.
/** The address of a server as getServers() gives it: "192.0.2.1", "192.0.2.1:5353", "::1", "[::1]:53". */
const hostOf = (server: string) =>
  server.startsWith('[') ? server.slice(1, server.indexOf(']')) : net.isIP(server) ? server : server.replace(/:\d+$/, '')

const METHODS = ['resolve', 'resolve4', 'resolve6', 'resolveAny', 'resolveCname', 'resolveMx', 'resolveNs', 'resolvePtr', 'resolveSoa', 'resolveSrv', 'resolveTxt', 'reverse'] as const
function guardServers(target: Record<string, unknown>, servers: (self: unknown) => string[], label: string): void {
  for (const method of METHODS) {
    const original = target[method]
    if (typeof original !== 'function') continue
    target[method] = function guarded(this: unknown, ...args: unknown[]) {
      const remote = servers(this).filter((s) => !isLoopback(hostOf(s)))
      if (remote.length) deny(`${label}.${method}(${String(args[0])}) via ${remote.join(', ')}`)
      return (original as (...a: unknown[]) => unknown).apply(this, args)
    }
  }
}
guardServers(dns, () => dns.getServers(), 'dns')
guardServers(dns.promises, () => dns.getServers(), 'dns.promises')
guardServers(dns.Resolver.prototype as unknown as Record<string, unknown>, (r) => (r as dns.Resolver).getServers(), 'dns.Resolver')
guardServers(
  dns.promises.Resolver.prototype as unknown as Record<string, unknown>,
  (r) => (r as dns.promises.Resolver).getServers(),
  'dns.promises.Resolver',
)
