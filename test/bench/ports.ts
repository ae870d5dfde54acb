import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import net from 'node:net'
import type { AddressInfo } from 'node:net'

/** A TCP port on 127.0.0.1 that was free a moment ago (the kernel picked it). */
export async function freePort(): Promise<number> {
  const server = net.createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** Connects and resolves when the server's 220 greeting arrives; rejects on anything else. */
function greeting(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port })
    socket.setTimeout(2000, () => socket.destroy(new Error('no greeting within 2s')))
    socket.once('error', reject)
    socket.once('data', (d: Buffer) => {
      socket.end('QUIT\r\n')
      if (d.toString('latin1').startsWith('220')) resolve()
      else reject(new Error(`unexpected greeting: ${d.toString('latin1').trim()}`))
    })
  })
}

/**
 * Waits until an SMTP server greets on `port`. `failed` reports why the server cannot come
 * up any more (its process exited), which ends the wait at once.
 */
export async function waitForSmtp(port: number, ms: number, failed: () => string | null): Promise<void> {
  const deadline = Date.now() + ms
  for (;;) {
    const why = failed()
    if (why) throw new Error(why)
    try {
      return await greeting(port)
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`nothing greets on 127.0.0.1:${port}: ${(err as Error).message}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }
}

/** A child process serving SMTP on 127.0.0.1:`port`. */
export interface SmtpChild {
  port: number
  pid: number
  /** SIGTERM, then waits for the exit; nothing if it has exited already. */
  stop(): Promise<void>
}

/**
 * Waits until `child` greets on `port` (within `ms`) and returns its handle. If it exits or fails
 * to start first, the wait ends at once with an error naming it as `name`, followed by what
 * `said` returns (its stderr, when that is piped).
 */
export async function smtpChild(child: ChildProcess, port: number, ms: number, name: string, said?: () => string): Promise<SmtpChild> {
  let exit: string | null = null
  // once() rejects on 'error': that is reported through `exit`, and stop() then has nothing to wait for.
  const exited = once(child, 'exit').catch(() => undefined)
  child.once('exit', (code, signal) => (exit = `${name} exited (${signal ?? code})${said ? `: ${said().trim()}` : ''}`))
  child.once('error', (err) => (exit = `${name}: ${err.message}`))
  try {
    await waitForSmtp(port, ms, () => exit)
  } catch (err) {
    // One that never greeted is not left running.
    if (!exit) child.kill('SIGKILL')
    throw err
  }
  return {
    port,
    pid: child.pid as number,
    async stop() {
      if (exit) return
      child.kill('SIGTERM')
      await exited
    },
  }
}
