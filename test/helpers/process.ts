import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { waitFor } from './relay.js'

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url))

/** A `smarthost-guard` process started by a test, with its JSON log lines parsed. */
export interface RelayProcess {
  child: ChildProcess
  lines: Record<string, unknown>[]
  stderr: () => string
  exited: Promise<number | null>
  waitForLog(test: (line: Record<string, unknown>) => boolean, ms?: number, what?: string): Promise<Record<string, unknown>>
  port(listener: string): number
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

/** Runs the CLI with `args` and waits for it to exit; returns its exit code and output. */
export async function runCli(args: string[], input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { stdio: 'pipe' })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  child.stdin.end(input ?? '')
  const [code] = (await once(child, 'exit')) as [number | null]
  return { code, stdout, stderr }
}

/** Starts `smarthost-guard serve` and waits until it says it is ready (stopping it if it does not). */
export async function spawnRelay(args: string[], readyMs = 20_000): Promise<RelayProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  const lines: Record<string, unknown>[] = []
  let pending = ''
  let stderr = ''
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (d: string) => {
    pending += d
    const parts = pending.split('\n')
    pending = parts.pop() ?? ''
    for (const p of parts) if (p.trim()) lines.push(JSON.parse(p) as Record<string, unknown>)
  })
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const exited = once(child, 'exit').then(([code]) => code as number | null)
  const proc: RelayProcess = {
    child,
    lines,
    stderr: () => stderr,
    exited,
    async waitForLog(test, ms = 15_000, what = 'a log line') {
      let found: Record<string, unknown> | undefined
      await waitFor(() => (found = lines.find(test)) !== undefined || child.exitCode !== null, ms, what)
      if (!found) throw new Error(`relay exited (${child.exitCode}) before ${what}: ${stderr}`)
      return found
    },
    port(listener) {
      const line = lines.find((l) => l.msg === 'listening' && l.listener === listener)
      if (!line) throw new Error(`no listener ${listener}`)
      return line.port as number
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal)
      return exited
    },
  }
  try {
    await proc.waitForLog((l) => l.msg === 'smarthost-guard ready', readyMs, 'the ready line')
  } catch (err) {
    child.kill('SIGKILL')
    throw err
  }
  return proc
}
