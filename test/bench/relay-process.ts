import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { open, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { spawnChild } from '../helpers/children.js'
import { progress } from './common.js'
import { freePort, waitForSmtp } from './ports.js'

/** How to run the relay under test. */
export interface RelayProcessOptions {
  /** The built entry point (dist/main.js). */
  main: string
  /** Folder for the policy, the log and any CPU profile. */
  dir: string
  sinkPort: number
  /** Policy log.level; the log goes to a file, as a production relay's would. */
  logLevel: string
  /** Pooled connections to the sink. */
  poolSize: number
  /** Write a V8 CPU profile into `dir` when the relay exits. */
  cpuProfile?: boolean
  /** Extra node/V8 flags, e.g. --max-semi-space-size=64 (heap sizes can only be set at start; --heap-growing-percent overrides the relay's own). */
  nodeFlags?: readonly string[]
  /** Extra arguments of `serve`, e.g. --workers 2. */
  serveArgs?: readonly string[]
  /** Changes to the policy (state backend, checks) before the relay starts. */
  patch?: (policy: BenchPolicy) => void
  /** The policy for a listener on `port`, instead of benchPolicy's. */
  policy?: (port: number) => Record<string, unknown>
  /** Changes to the outbound instance of the policy (checks, scan section). */
  outbound?: (instance: Record<string, unknown>) => void
}

/** The bench policy tree, loosely typed: the relay validates it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type BenchPolicy = Record<string, any>

/** The relay running in its own process. */
export interface RelayProcess {
  port: number
  pid: number
  logFile: string
  /** Stops it with SIGTERM (draining) and waits for it to exit. */
  stop(): Promise<void>
}

/**
 * The policy of the relay under test: the outbound instance only, one plain listener, the
 * sink as the only next hop, the client's address as a relay network, no checks beyond the
 * built-in ones. JSON is YAML, so the relay reads it as a policy file.
 */
export function benchPolicy(port: number, opts: RelayProcessOptions): BenchPolicy {
  const outbound: Record<string, unknown> = {
    listeners: [{ name: 'bench', address: '127.0.0.1', port, tls: 'none' }],
    relay: { networks: ['127.0.0.1/32'] },
    next_hops: [{ host: '127.0.0.1', port: opts.sinkPort, tls: 'none', max_connections: opts.poolSize }],
    limits: { drain_timeout: '5s' },
  }
  opts.outbound?.(outbound)
  const policy: BenchPolicy = {
    hostname: 'relay.bench.example',
    admin: { address: '127.0.0.1', port: 0 },
    // The client is 127.0.0.1, which the hosts file names; a closed port makes sure that no
    // other lookup leaves the machine.
    dns: { servers: ['127.0.0.1:1'], timeout: '200ms', tries: 1 },
    log: { level: opts.logLevel },
    instances: { outbound },
  }
  opts.patch?.(policy)
  return policy
}

/**
 * The relay's entry point, dist/main.js: compiled afresh first (saying so on stderr) unless
 * `build` is false (a bench's --no-build).
 */
export async function relayEntry(root: string, build: boolean): Promise<string> {
  if (!build) return join(root, 'dist', 'main.js')
  progress('building the relay (tsconfig.build.json)')
  return buildRelay(root)
}

/**
 * Compiles src/ into dist/ (tsconfig.build.json), so the relay runs as it does in
 * production: plain JavaScript, no loader. Resolves with the path of dist/main.js.
 */
async function buildRelay(root: string): Promise<string> {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
  const child = spawn(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (d: Buffer) => (output += d.toString()))
  child.stderr.on('data', (d: Buffer) => (output += d.toString()))
  const [code] = (await once(child, 'exit')) as [number | null]
  if (code !== 0) throw new Error(`building the relay failed:\n${output.trim()}`)
  return join(root, 'dist', 'main.js')
}

/** Starts `smarthost-guard serve` from the built code and waits until it greets. */
export async function startRelayProcess(opts: RelayProcessOptions): Promise<RelayProcess> {
  const port = await freePort()
  const config = join(opts.dir, `relay-${port}.yaml`)
  const logFile = join(opts.dir, `relay-${port}.log`)
  await writeFile(config, JSON.stringify(opts.policy?.(port) ?? benchPolicy(port, opts), null, 2))
  const log = await open(logFile, 'w')
  const profile = opts.cpuProfile ? ['--cpu-prof', '--cpu-prof-dir', opts.dir] : []
  const child = spawnChild(process.execPath, [...(opts.nodeFlags ?? []), ...profile, opts.main, 'serve', '--config', config, '--instance', 'outbound', ...(opts.serveArgs ?? [])], {
    stdio: ['ignore', log.fd, log.fd],
  })
  await log.close()
  let exit: string | null = null
  const exited = once(child, 'exit')
  child.once('exit', (code, signal) => (exit = `the relay exited (${signal ?? code})`))
  child.once('error', (err) => (exit = `the relay: ${err.message}`))
  try {
    // Generous: a relay with workers starts several processes, on a machine that may be busy.
    await waitForSmtp(port, 60_000, () => exit)
  } catch (err) {
    if (!exit) child.kill('SIGKILL')
    const tail = (await readFile(logFile, 'utf8').catch(() => '')).slice(-2000)
    throw new Error(`${(err as Error).message}\n${tail}`)
  }
  return {
    port,
    pid: child.pid as number,
    logFile,
    async stop() {
      if (exit) return
      child.kill('SIGTERM')
      await exited
    },
  }
}
