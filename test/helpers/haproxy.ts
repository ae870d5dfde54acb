import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '../bench/ports.js'
import { spawnChild } from './children.js'

/** A real HAProxy (Debian package haproxy) in front of a relay listener, one frontend per PROXY version. */
export interface HaproxyFront {
  /** Frontend port whose connections reach the backend with `send-proxy` (v1). */
  readonly v1Port: number
  /** Frontend port whose connections reach the backend with `send-proxy-v2`. */
  readonly v2Port: number
  close(): Promise<void>
}

async function listening(port: number, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port })
      s.once('connect', () => {
        s.destroy()
        resolve(true)
      })
      s.once('error', () => resolve(false))
    })
    if (ok) return
    if (Date.now() > deadline) throw new Error(`haproxy does not listen on ${port}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

/** Runs HAProxy in the foreground on `lines` (a haproxy.cfg) until `ports` listen; `close` stops it. */
async function runHaproxy(lines: string[], ports: number[]): Promise<{ close(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'shg-haproxy-'))
  const config = join(dir, 'haproxy.cfg')
  await writeFile(config, [...lines, ''].join('\n'))
  const child = spawnChild('haproxy', ['-f', config, '-db'], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const exited = once(child, 'exit')
  try {
    await Promise.race([
      Promise.all(ports.map((p) => listening(p))),
      exited.then(() => Promise.reject(new Error(`haproxy exited: ${stderr}`))),
    ])
  } catch (err) {
    child.kill('SIGKILL')
    await rm(dir, { recursive: true, force: true })
    throw err
  }
  return {
    async close() {
      if (child.exitCode === null) {
        child.kill('SIGTERM')
        await exited
      }
      await rm(dir, { recursive: true, force: true })
    },
  }
}

const TCP_DEFAULTS = ['defaults', '  mode tcp', '  timeout connect 2s', '  timeout client 30s', '  timeout server 30s']

/**
 * Starts HAProxy in TCP mode in the foreground: two frontends on free ports, both to
 * `backendPort`, connecting from `source` (the load balancer address the relay trusts).
 */
export async function startHaproxy(backendPort: number, source: string): Promise<HaproxyFront> {
  const [v1Port, v2Port] = [await freePort(), await freePort()]
  const proc = await runHaproxy(
    [
      'global',
      '  maxconn 100',
      ...TCP_DEFAULTS,
      `frontend v1`,
      `  bind 127.0.0.1:${v1Port}`,
      '  default_backend relay_v1',
      `frontend v2`,
      `  bind 127.0.0.1:${v2Port}`,
      '  default_backend relay_v2',
      'backend relay_v1',
      `  server relay 127.0.0.1:${backendPort} send-proxy source ${source}`,
      'backend relay_v2',
      `  server relay 127.0.0.1:${backendPort} send-proxy-v2 source ${source}`,
    ],
    [v1Port, v2Port],
  )
  return { v1Port, v2Port, close: () => proc.close() }
}

/** A real HAProxy balancing connections over several relay nodes. */
export interface HaproxyBalancer {
  /** The frontend port clients connect to. */
  readonly port: number
  close(): Promise<void>
}

/**
 * Starts HAProxy as a cluster's load balancer: one frontend, connections spread round-robin
 * over `backendPorts` with `send-proxy-v2`, from `source`. A node that refuses the connection
 * (stopped, or draining: its listener is closed) is skipped: `option redispatch` sends the
 * retry to another node, as the deploy/compose configuration does with health checks.
 */
export async function startHaproxyBalancer(backendPorts: number[], source: string): Promise<HaproxyBalancer> {
  const port = await freePort()
  const proc = await runHaproxy(
    [
      'global',
      '  maxconn 200',
      ...TCP_DEFAULTS,
      '  retries 3',
      '  option redispatch 1',
      'frontend smtp',
      `  bind 127.0.0.1:${port}`,
      '  default_backend relays',
      'backend relays',
      '  balance roundrobin',
      ...backendPorts.map((p, i) => `  server node${i + 1} 127.0.0.1:${p} send-proxy-v2 source ${source}`),
    ],
    [port],
  )
  return { port, close: () => proc.close() }
}
