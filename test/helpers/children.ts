import { spawn } from 'node:child_process'
import type { ChildProcess, SpawnOptions } from 'node:child_process'
import { existsSync } from 'node:fs'
import { delimiter, join } from 'node:path'

// Every process a test helper starts (redis-server, haproxy, the relay, the bench's tools) is
// killed when the test process ends, however it ends, so that no throwaway server outlives it:
//
// * a normal exit or an uncaught error: the 'exit' handler kills what is still running;
// * SIGINT, SIGTERM, SIGHUP: the handler kills them, then the signal ends the process as it would have;
// * SIGKILL (or a crash that runs no handler): nothing in this process runs, so each child is
//   started under `setpriv --pdeathsig KILL` (util-linux), which has the kernel send it SIGKILL
//   when this process dies. setpriv execs the program, so the child keeps its pid. Without
//   setpriv (not Linux) that last case is not covered.

const children = new Set<ChildProcess>()
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']
let installed = false

const setpriv = (process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, 'setpriv')).find((file) => existsSync(file)) ?? null

/**
 * Like child_process.spawn (always with arguments), for a process that must not outlive the
 * test process: tracked until it exits, and killed with SIGKILL when the test process ends.
 */
export const spawnChild = ((command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess => {
  install()
  const [file, argv] = setpriv ? [setpriv, ['--pdeathsig', 'KILL', '--', command, ...args]] : [command, [...args]]
  const child = spawn(file, argv, { ...options, detached: false })
  children.add(child)
  child.once('exit', () => children.delete(child))
  child.once('error', () => children.delete(child))
  return child
}) as typeof spawn

function killAll(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  }
  children.clear()
}

function install(): void {
  if (installed) return
  installed = true
  process.on('exit', killAll)
  for (const signal of SIGNALS) {
    const onSignal = () => {
      killAll()
      // Let the signal do what it would have done without this handler (end the process).
      process.removeListener(signal, onSignal)
      process.kill(process.pid, signal)
    }
    process.on(signal, onSignal)
  }
}
