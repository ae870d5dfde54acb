import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '../bench/ports.js'

/** A real redis-server started by a test on 127.0.0.1, that the test can stop and start again. */
export interface RedisServer {
  readonly port: number
  readonly url: string
  /** Stops it (SIGKILL: as a crash, nothing saved) and waits for the process to exit. */
  stop(): Promise<void>
  /** Starts it again on the same port. */
  start(): Promise<void>
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
export async function startRedisServer(): Promise<RedisServer> {
  const port = await freePort()
  const dir = await mkdtemp(join(tmpdir(), 'shg-redis-'))
  let child: ChildProcess | null = null
  let exited = false
  const start = async () => {
    exited = false
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
      stdio: 'ignore',
    })
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
