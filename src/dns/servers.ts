import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'

/** One DNS server to query. */
export interface DnsServer {
  readonly address: string
  readonly port: number
}

/**
 * Parses "addr", "addr:port", "[v6]" or "[v6]:port"; a bare IPv6 address has no port.
 * Null when it is not an address (host names are refused: resolving the resolver would need a resolver).
 */
export function parseServer(text: string): DnsServer | null {
  const s = text.trim()
  let address = s
  let port = 53
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(s)
  if (bracketed) {
    address = bracketed[1] ?? ''
    if (bracketed[2] !== undefined) port = Number(bracketed[2])
  } else if (isIP(s) === 0) {
    const i = s.lastIndexOf(':')
    if (i < 0) return null
    address = s.slice(0, i)
    port = Number(s.slice(i + 1))
    if (!/^\d{1,5}$/.test(s.slice(i + 1)) || isIP(address) !== 4) return null
  }
  if (isIP(address) === 0 || port < 1 || port > 65535) return null
  return { address, port }
}

/** "192.0.2.53:53", "[2001:db8::53]:53": how a server is shown in logs. */
export const formatServer = (s: DnsServer) => (isIP(s.address) === 6 ? `[${s.address}]:${s.port}` : `${s.address}:${s.port}`)

/**
 * The `nameserver` lines of /etc/resolv.conf. With none, the name server on this machine, as
 * resolv.conf(5) says the C library does; never a library's built-in public resolvers.
 */
export function systemServers(file = '/etc/resolv.conf'): DnsServer[] {
  let text = ''
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    // No resolv.conf: the same as one without nameserver lines.
  }
  const servers = text
    .split('\n')
    .map((line) => /^\s*nameserver\s+(\S+)/.exec(line)?.[1])
    // A scoped link-local address (fe80::1%eth0) cannot be used by a UDP socket as written.
    .map((addr) => (addr ? parseServer(addr.split('%')[0] ?? '') : null))
    .filter((s): s is DnsServer => s !== null)
  return servers.length ? servers : [{ address: '127.0.0.1', port: 53 }]
}
