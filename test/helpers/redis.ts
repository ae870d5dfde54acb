import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '../bench/ports.js'
import { spawnChild } from './children.js'

/** A real redis-server started by a test on 127.0.0.1, that the test can stop and start again. */
export interface RedisServer {
  readonly port: number
  readonly url: string
  /** Stops it (SIGKILL: as a crash, nothing saved) and waits for the process to exit. */
  stop(): Promise<void>
  /** Starts it again on the same port. */
  start(): Promise<void>
  /** Freezes it (SIGSTOP): connections stay open and nothing is answered, as a stalled host. */
  pause(): void
  /** Lets a paused server run again (SIGCONT); it answers what queued up meanwhile. */
  resume(): void
  close(): Promise<void>
}

/** Sends PING and resolves when PONG comes back. */
function ping(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port })
    s.setTimeout(1000, () => s.destroy(new Error('no PONG within 1s')))
    s.once('error', reject)
    s.once('connect', () => s.write('PING\r\n'))
    s.once('data', (d: Buffer) => {
      s.destroy()
      if (d.toString().startsWith('+PONG')) resolve()
      else reject(new Error(`unexpected reply ${d.toString().trim()}`))
    })
  })
}

async function untilPong(port: number, exited: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  for (;;) {
    if (exited()) throw new Error(`redis-server on port ${port} exited at start`)
    try {
      return await ping(port)
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`redis-server did not answer on port ${port}: ${(err as Error).message}`)
      await new Promise((r) => setTimeout(r, 25))
    }
  }
}

/**
 * Starts a throwaway redis-server (Debian package redis-server) on a free port: no
 * persistence, loopback only. Always a process of its own, since tests stop and restart it.
 */
export async function startRedisServer(extraArgs: (dir: string, port: number) => string[] = () => []): Promise<RedisServer> {
  const port = await freePort()
  const dir = await mkdtemp(join(tmpdir(), 'shg-redis-'))
  let child: ChildProcess | null = null
  let exited = false
  const start = async () => {
    exited = false
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extraArgs(dir, port)]
    child = spawnChild('redis-server', args, { stdio: 'ignore' })
    child.once('exit', () => (exited = true))
    child.once('error', () => (exited = true))
    await untilPong(port, () => exited)
  }
  const stop = async () => {
    const c = child
    child = null
    if (!c || exited) return
    const gone = once(c, 'exit')
    c.kill('SIGKILL')
    await gone
  }
  await start()
  return {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    stop,
    start,
    pause: () => void child?.kill('SIGSTOP'),
    resume: () => void child?.kill('SIGCONT'),
    async close() {
      await stop()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/**
 * The Redis a test shares state through: REDIS_URL when set (a CI service), else a throwaway
 * redis-server. Tests that stop Redis use startRedisServer() instead.
 */
export async function sharedRedis(): Promise<{ url: string; close(): Promise<void> }> {
  const url = process.env.REDIS_URL
  if (url) return { url, close: () => Promise.resolve() }
  return startRedisServer()
}

/** A key prefix of its own for each test file, so runs against a shared REDIS_URL never meet. */
export const testKeyPrefix = (name: string) => `shgtest:${name}:${process.pid}:${Date.now()}:`

/** Runs redis-cli with `args` against 127.0.0.1:`port`; resolves with its output. */
export async function redisCli(port: number, ...args: string[]): Promise<string> {
  const child = spawn('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr.on('data', (d: Buffer) => (out += d.toString()))
  const [code] = (await once(child, 'exit')) as [number | null]
  if (code !== 0) throw new Error(`redis-cli ${args.join(' ')}: ${out}`)
  return out
}

/** A Sentinel watching `masterPort` as master group `name` (quorum 1). */
export async function startSentinel(masterPort: number, name: string): Promise<{ port: number; close(): Promise<void> }> {
  const port = await freePort()
  const dir = await mkdtemp(join(tmpdir(), 'shg-sentinel-'))
  const config = join(dir, 'sentinel.conf')
  await writeFile(config, [`port ${port}`, 'bind 127.0.0.1', `dir ${dir}`, `sentinel monitor ${name} 127.0.0.1 ${masterPort} 1`, ''].join('\n'))
  const child = spawnChild('redis-server', [config, '--sentinel'], { stdio: 'ignore' })
  let exited = false
  child.once('exit', () => (exited = true))
  await untilPong(port, () => exited)
  return {
    port,
    async close() {
      if (!exited) {
        const gone = once(child, 'exit')
        child.kill('SIGKILL')
        await gone
      }
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/** A Redis Cluster of `masters` nodes without replicas, every slot assigned. */
export async function startRedisCluster(masters = 3): Promise<{ nodes: string[]; close(): Promise<void> }> {
  const servers: RedisServer[] = []
  for (let i = 0; i < masters; i++) {
    servers.push(await startRedisServer((dir, port) => ['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`)]))
  }
  const nodes = servers.map((s) => `127.0.0.1:${s.port}`)
  const close = async () => {
    await Promise.all(servers.map((s) => s.close()))
  }
  try {
    const first = servers[0]?.port ?? 0
    await redisCli(first, '--cluster', 'create', ...nodes, '--cluster-replicas', '0', '--cluster-yes')
    const deadline = Date.now() + 15_000
    while (!(await redisCli(first, 'cluster', 'info')).includes('cluster_state:ok')) {
      if (Date.now() > deadline) throw new Error('the Redis cluster did not become ready')
      await new Promise((r) => setTimeout(r, 50))
    }
  } catch (err) {
    await close()
    throw err
  }
  return { nodes, close }
}
