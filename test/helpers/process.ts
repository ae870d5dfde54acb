import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { spawnChild } from './children.js'
import { parseLogLine } from './log-lines.js'
import { parse, stringify } from 'yaml'
import { DEFAULT_CONFIG } from '../../src/cli/args.js'
import type { PolicyTree } from './relay.js'
import { waitFor } from './relay.js'

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url))

/** A copy of the embedded default tree: `<dir>/policies/relay.yaml`, with its `var/` at `<dir>/var`. */
export interface DefaultTreeCopy {
  dir: string
  file: string
  /** A path in the copy's var/ folder (pid file, admin token, users, quarantine). */
  varPath(name: string): string
  remove(): Promise<void>
}

/**
 * Copies policies/relay.yaml into a temporary folder (its YARA rules linked), so that what a
 * relay started by a test writes next to the tree (../var/) lands there and not in the
 * repository, where tests running in parallel would share it. `patch` may change the tree
 * (e.g. free ports where the default ones could be taken by another test).
 */
export async function copyDefaultTree(patch: (tree: PolicyTree) => void = () => undefined): Promise<DefaultTreeCopy> {
  const dir = await mkdtemp(join(tmpdir(), 'shg-default-'))
  await mkdir(join(dir, 'policies'))
  await symlink(join(DEFAULT_CONFIG, '..', 'yara'), join(dir, 'policies', 'yara'))
  const text = await readFile(DEFAULT_CONFIG, 'utf8')
  const tree = parse(text) as PolicyTree
  patch(tree)
  const file = join(dir, 'policies', 'relay.yaml')
  await writeFile(file, stringify(tree))
  return { dir, file, varPath: (name) => join(dir, 'var', name), remove: () => rm(dir, { recursive: true, force: true }) }
}

/** A `smarthost-guard` process started by a test, with its log lines parsed (JSON or text). */
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
  const child = spawnChild(process.execPath, ['--import', 'tsx', MAIN, ...args], { stdio: 'pipe' })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  child.stdin.end(input ?? '')
  const [code] = (await once(child, 'exit')) as [number | null]
  return { code, stdout, stderr }
}

/** A long-running `smarthost-guard` command (such as `sink`) started by a test. */
export interface CliProcess {
  child: ChildProcess
  stdout(): string
  stderr(): string
  /** Waits until standard output matches `pattern`; returns the match. */
  waitForOutput(pattern: RegExp, ms?: number): Promise<RegExpMatchArray>
  stop(): Promise<number | null>
}

/** Starts the CLI with `args` and leaves it running. */
export function spawnCli(args: string[]): CliProcess {
  const child = spawnChild(process.execPath, ['--import', 'tsx', MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const exited = once(child, 'exit').then(([code]) => code as number | null)
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    async waitForOutput(pattern, ms = 15_000) {
      let match: RegExpMatchArray | null = null
      await waitFor(() => (match = pattern.exec(stdout)) !== null || child.exitCode !== null, ms, `output matching ${String(pattern)}`)
      if (!match) throw new Error(`exited (${child.exitCode}) before printing ${String(pattern)}: ${stderr}`)
      return match
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM')
      return exited
    },
  }
}

/**
 * Starts `smarthost-guard serve` and waits until it says it is ready. Without --config it runs
 * the embedded default tree from a temporary copy (see copyDefaultTree), removed at stop. A
 * relay that does not become ready within `readyMs` is stopped.
 */
export async function spawnRelay(args: string[], readyMs = 20_000): Promise<RelayProcess> {
  const copy = args.includes('--config') || args.includes('-c') ? null : await copyDefaultTree()
  const child = spawnChild(process.execPath, ['--import', 'tsx', MAIN, 'serve', ...(copy ? ['--config', copy.file] : []), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines: Record<string, unknown>[] = []
  let pending = ''
  let stderr = ''
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (d: string) => {
    pending += d
    const parts = pending.split('\n')
    pending = parts.pop() ?? ''
    for (const p of parts) if (p.trim()) lines.push(parseLogLine(p))
  })
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const exited = once(child, 'exit').then(async ([code]) => {
    await copy?.remove()
    return code as number | null
  })
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
    // Nobody gets this relay to stop it: a relay left running would keep the test process alive.
    await proc.stop('SIGKILL')
    throw err
  }
  return proc
}
