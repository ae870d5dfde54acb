import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createWriteStream, existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { delimiter, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The CLI entry this code was started from (main.ts under tsx, main.js when built). */
const MAIN = fileURLToPath(new URL(`../main${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url))

/**
 * util-linux's setpriv, to have the kernel kill the relay if the demo dies without running any
 * handler (SIGKILL); null elsewhere, where the exit and signal handlers are all there is.
 */
const SETPRIV = (process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, 'setpriv')).find((file) => existsSync(file)) ?? null

/** The relay, running `serve --instance outbound` in its own process. */
export interface RelayChild {
  child: ChildProcess
  /** Stops it (SIGTERM, then SIGKILL after `graceMs`) and waits for its exit. */
  stop(graceMs?: number): Promise<void>
}

/**
 * Starts the relay as a child process on `policy` (the same node, with the same loader flags),
 * so the load the demo generates never shares the relay's event loop. Its output goes to
 * `logFile`. Resolves once `/readyz` answers 200; rejects with the log's end if it exits first
 * or is not ready within `timeoutMs`.
 */
export async function startRelay(policy: string, adminPort: number, logFile: string, timeoutMs = 60_000): Promise<RelayChild> {
  const log = createWriteStream(logFile)
  const argv = [...process.execArgv, MAIN, 'serve', '--config', policy, '--instance', 'outbound']
  // setpriv execs node, so the child keeps its pid and receives our signals directly.
  const [file, args] = SETPRIV ? [SETPRIV, ['--pdeathsig', 'KILL', '--', process.execPath, ...argv]] : [process.execPath, argv]
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  child.stdout.pipe(log)
  child.stderr.pipe(log)
  let exited = false
  const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())))
  // Never leave a relay behind, whatever ends the demo.
  const kill = () => child.kill('SIGKILL')
  process.once('exit', kill)
  const stop = async (graceMs = 35_000) => {
    if (!exited) {
      child.kill('SIGTERM')
      const timer = setTimeout(kill, graceMs)
      await exit
      clearTimeout(timer)
    }
    process.removeListener('exit', kill)
    await new Promise<void>((resolve) => log.end(() => resolve()))
  }
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (exited || Date.now() > deadline) {
      await stop(1000)
      const tail = (await readFile(logFile, 'utf8').catch(() => '')).split('\n').slice(-15).join('\n')
      throw new Error(`the relay did not start${exited ? ` (exit ${child.exitCode ?? child.signalCode})` : ''}; its log ends:\n${tail}`)
    }
    const ready = await fetch(`http://127.0.0.1:${adminPort}/readyz`).then(
      (r) => r.status === 200,
      () => false,
    )
    if (ready) return { child, stop }
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}
