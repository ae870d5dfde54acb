import { promises as dns } from 'node:dns'

/** DNS settings from the policy tree (`dns:`). */
export interface DnsSettings {
  /** "addr", "addr:port" or "[v6]:port"; empty means the servers in /etc/resolv.conf. */
  servers: readonly string[]
  timeoutMs: number
  tries: number
}

/**
 * The one resolver the relay uses, injected into every check. It talks only to the servers
 * in the policy tree (or the system's), never to a library's built-in public resolvers.
 */
export interface Resolver {
  /** PTR names of an address; [] when there are none. */
  reverse(address: string): Promise<string[]>
  /** dns.promises.resolve's contract (the one mailauth expects). */
  resolve(name: string, rrtype: string): Promise<unknown>
  /** The servers queries go to, for logs and `check-config`. */
  servers(): string[]
}

/** Creates a resolver on node's c-ares client with the policy's servers, timeout and tries. */
export function createResolver(settings: DnsSettings): Resolver {
  const r = new dns.Resolver({ timeout: settings.timeoutMs, tries: settings.tries })
  if (settings.servers.length > 0) r.setServers([...settings.servers])
  return {
    async reverse(address) {
      try {
        return await r.reverse(address)
      } catch (err) {
        if (isNoData(err)) return []
        throw err
      }
    },
    resolve: (name, rrtype) => r.resolve(name, rrtype),
    servers: () => r.getServers(),
  }
}

function isNoData(err: unknown): boolean {
  const code = (err as { code?: string }).code
  return code === dns.NOTFOUND || code === dns.NODATA
}
