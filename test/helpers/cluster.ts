import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { freePort } from '../bench/ports.js'
import { startHaproxyBalancer } from './haproxy.js'
import type { HaproxyBalancer } from './haproxy.js'
import { outboundNodePolicy } from './node-policy.js'
import { spawnRelay } from './process.js'
import type { RelayProcess } from './process.js'
import { startRedisServer, testKeyPrefix } from './redis.js'
import type { RedisServer } from './redis.js'
import type { PolicyTree } from './relay.js'
import { startSink } from './sink.js'
import type { Sink } from './sink.js'
import { startReceiver } from './webhook-receiver.js'
import type { Receiver } from './webhook-receiver.js'

/** Two `serve --instance outbound` processes sharing one real Redis, with their next hop, their ticket desk and (optionally) HAProxy in front. */
export interface RelayCluster {
  redis: RedisServer
  /** The next hop of both nodes. */
  sink: Sink
  /** The webhook `desk` both nodes send incidents to. */
  receiver: Receiver
  /** With `balancer`: HAProxy spreading connections over the nodes' `lb` listeners. */
  haproxy: HaproxyBalancer | null
  /** Node a, then node b; a test may put a restarted node in its place (see `respawn`). */
  nodes: RelayProcess[]
  /** Each node's admin API, `http://127.0.0.1:<port>`, in the order of `nodes`. */
  admin: string[]
  /** Starts node `index` again from its policy file (after a test stopped it) and puts it in its place in `nodes`. */
  respawn(index: number): Promise<RelayProcess>
  close(): Promise<void>
}

/**
 * Starts a cluster of two relay nodes (a and b) on one Redis, under key prefix and temporary
 * folder named for `name`. Each node's policy is `outboundNodePolicy` with the admin API
 * (token `token`) and alerts every 300 ms to one webhook `desk` signed with `secret`, under
 * `rules`; `outbound` changes the instance. With `balancer`, each node listens as `lb` on a fixed
 * port (so a restarted node is where HAProxy expects it), trusts PROXY headers from that
 * address, and HAProxy balances over both from it.
 */
export async function startRelayCluster(opts: {
  name: string
  token: string
  secret: string
  rules: PolicyTree
  outbound?: (instance: PolicyTree) => void
  balancer?: string
}): Promise<RelayCluster> {
  const nodes: RelayProcess[] = []
  const admin: string[] = []
  const files: string[] = []
  let redis: RedisServer | undefined
  let sink: Sink | undefined
  let receiver: Receiver | undefined
  let haproxy: HaproxyBalancer | undefined
  let dir: string | undefined
  const close = async () => {
    // A node that crashed (not one a test stopped) leaves its last words for the failure report.
    for (const n of nodes) if (n.child.exitCode !== null && n.child.exitCode !== 0) process.stderr.write(`relay exited ${n.child.exitCode}: ${n.stderr().slice(-2000)}\n`)
    await haproxy?.close()
    await Promise.all(nodes.map((n) => n.stop()))
    await receiver?.close()
    await sink?.close()
    await redis?.close()
    if (dir) await rm(dir, { recursive: true, force: true })
  }
  const spawn = (file: string) => spawnRelay(['--config', file, '--instance', 'outbound'])
  try {
    redis = await startRedisServer()
    sink = await startSink({ starttls: false })
    receiver = await startReceiver(opts.secret)
    dir = await mkdtemp(join(tmpdir(), `shg-${opts.name}-`))
    await writeFile(join(dir, 'admin.token'), `${opts.token}\n`)
    await writeFile(join(dir, 'hook.secret'), `${opts.secret}\n`)
    const prefix = testKeyPrefix(opts.name)
    for (const name of ['a', 'b']) {
      const adminPort = await freePort()
      const smtpPort = opts.balancer ? await freePort() : 0
      const policy = outboundNodePolicy({
        sinkPort: sink.port,
        adminPort,
        redis: { url: redis.url, prefix },
        outbound: (o) => {
          if (opts.balancer) o.listeners = [{ name: 'lb', address: '127.0.0.1', port: smtpPort, tls: 'none', proxy_from: [`${opts.balancer}/32`] }]
          opts.outbound?.(o)
        },
        top: {
          alerts: {
            evaluate_every: '300ms',
            lease: '2s',
            retry: { min: '200ms', max: '1s' },
            webhooks: [{ name: 'desk', url: receiver.url, secret_file: join(dir, 'hook.secret') }],
            rules: opts.rules,
          },
        },
      })
      const file = join(dir, `node-${name}.yaml`)
      await writeFile(file, stringify(policy))
      files.push(file)
      admin.push(`http://127.0.0.1:${adminPort}`)
    }
    // Both nodes start at once: each takes a few seconds to load.
    const started = await Promise.allSettled(files.map(spawn))
    for (const s of started) if (s.status === 'fulfilled') nodes.push(s.value)
    const failed = started.find((s) => s.status === 'rejected')
    if (failed) throw failed.reason
    if (opts.balancer) haproxy = await startHaproxyBalancer(nodes.map((n) => n.port('lb')), opts.balancer)
  } catch (err) {
    await close()
    throw err
  }
  return {
    redis,
    sink,
    receiver,
    haproxy: haproxy ?? null,
    nodes,
    admin,
    async respawn(index) {
      const node = await spawn(files[index]!)
      nodes[index] = node
      return node
    },
    close,
  }
}
