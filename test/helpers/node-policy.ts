import type { PolicyTree } from './relay.js'

/**
 * A policy for a `serve --instance outbound` process in a test: one plain listener on a free
 * port, the relay networks 127.0.0.0/8, the next hop at `sinkPort`, the admin API on
 * `adminPort` with `admin.token_file: admin.token`. `redis` puts the state in Redis (a
 * cluster of such processes); `outbound` changes the instance, `top` adds top-level sections.
 */
export function outboundNodePolicy(opts: {
  sinkPort: number
  adminPort: number
  redis?: { url: string; prefix: string }
  outbound?: (instance: PolicyTree) => void
  top?: PolicyTree
}): PolicyTree {
  const outbound: PolicyTree = {
    listeners: [{ name: 'submission', address: '127.0.0.1', port: 0, tls: 'none' }],
    relay: { networks: ['127.0.0.0/8'] },
    next_hops: [{ host: '127.0.0.1', port: opts.sinkPort, tls: 'none' }],
    limits: { drain_timeout: '2s' },
    checks: [],
  }
  opts.outbound?.(outbound)
  return {
    hostname: 'node.test',
    reply_url: 'https://postmaster.example.net/why/{reason}',
    admin: { address: '127.0.0.1', port: opts.adminPort, token_file: 'admin.token' },
    dns: { servers: ['127.0.0.1:1'], timeout: '200ms', tries: 1 },
    ...(opts.redis ? { state: { backend: 'redis', redis: { url: opts.redis.url, key_prefix: opts.redis.prefix } } } : {}),
    instances: { outbound },
    ...opts.top,
  }
}
