import { fork } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

/** The bench's DNS server process (server-process.ts). */
export interface DnsProcess {
  port: number
  child: ChildProcess
  /** Queries it has answered so far. */
  queries(): Promise<number>
  stop(): Promise<void>
}

/** Starts the bench's DNS server in a process of its own; resolves with its port. */
export async function startDnsProcess(): Promise<DnsProcess> {
  const child = fork(fileURLToPath(new URL('./server-process.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  })
  const [line] = (await once(child.stdout as NodeJS.ReadableStream, 'data')) as [Buffer]
  const port = Number(/PORT (\d+)/.exec(line.toString())?.[1])
  if (!port) throw new Error(`the DNS server did not start: ${line.toString()}`)
  return {
    port,
    child,
    async queries() {
      child.send('count')
      const [m] = (await once(child, 'message')) as [{ queries: number }]
      return m.queries
    },
    async stop() {
      if (child.exitCode !== null) return
      const exited = once(child, 'exit')
      child.send('stop')
      await exited
    },
  }
}
