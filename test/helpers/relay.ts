import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { stringify } from 'yaml'
import { hashPassword } from '../../src/auth/password.js'
import type { InstanceName } from '../../src/config/schema.js'
import { createLogger } from '../../src/log/logger.js'
import { Service } from '../../src/service/service.js'
import { after, before } from 'node:test'
import { startSink } from './sink.js'
import type { Sink, SinkOptions } from './sink.js'
import { testCertificate } from './tls.js'

/** The SMTP AUTH user every test policy knows. */
export const USER = { name: 'alice', password: 'correct horse battery staple' }
let userLine: Promise<string> | null = null
const credentialsLine = () => (userLine ??= hashPassword(USER.password).then((h) => `${USER.name}:${h}\n`))

/** A policy tree for tests: loopback listeners on free ports, next hops at the given sinks. */
export function testPolicy(nextHops: number[], patch: (p: PolicyTree) => void = () => undefined): PolicyTree {
  const hops = nextHops.map((port) => ({ host: '127.0.0.1', port, connect_timeout: '2s', timeout: '10s' }))
  const tree: PolicyTree = {
    hostname: 'relay.test',
    reply_url: 'https://postmaster.example.net/why/{reason}',
    admin: { address: '127.0.0.1', port: 0 },
    dns: { servers: ['127.0.0.1:1'], timeout: '200ms', tries: 1 },
    log: { level: 'debug' },
    instances: {
      outbound: {
        listeners: [
          { name: 'submission', address: '127.0.0.1', port: 0, tls: 'starttls', auth: true, cert: 'cert.pem', key: 'key.pem' },
          { name: 'submissions', address: '127.0.0.1', port: 0, tls: 'implicit', auth: true, cert: 'cert.pem', key: 'key.pem' },
        ],
        relay: { networks: ['127.0.0.1/32', '::1/128'], credentials: 'users.passwd' },
        next_hops: hops,
        limits: { drain_timeout: '5s' },
        checks: [],
      },
      inbound: {
        listeners: [{ name: 'mx', address: '127.0.0.1', port: 0, tls: 'starttls', cert: 'cert.pem', key: 'key.pem' }],
        local: {
          domains: {
            'example.net': {},
            'example.org': { valid: ['postmaster', 'alice', 'bob'], invalid: ['root'] },
          },
        },
        next_hops: hops,
        smtp: { bare_line_endings: 'reject' },
        limits: { drain_timeout: '5s' },
      },
    },
  }
  patch(tree)
  return tree
}

// A loosely typed policy tree: tests write YAML, the relay validates it.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type PolicyTree = Record<string, any>

/** Log lines captured: JSON ones parsed, text ones (log.format: text) as they are. */
export interface LogCapture {
  log: Logger
  lines: Record<string, unknown>[]
  /** Lines in the text format, without their newline. */
  text: string[]
  transactions(): { session: Record<string, unknown>; tx: Record<string, unknown>; msg: string }[]
  /** Session outcome events (refusals before MAIL, AUTH, disconnects). */
  sessions(): { stage: string; outcome: string; check?: string; reply?: string; reason?: string; user?: string; session: Record<string, unknown>; msg: string }[]
}

/** A logger as the relay makes it (so log.format applies), writing into arrays. */
export function captureLog(): LogCapture {
  const lines: Record<string, unknown>[] = []
  const text: string[] = []
  const log = createLogger('debug', {
    destination: {
      write: (line: string) => {
        if (line.startsWith('{')) lines.push(JSON.parse(line) as Record<string, unknown>)
        else text.push(line.replace(/\n$/, ''))
      },
    },
  })
  return {
    log,
    lines,
    text,
    transactions: () =>
      lines.filter((l) => l.event === 'transaction') as unknown as ReturnType<LogCapture['transactions']>,
    sessions: () => lines.filter((l) => l.event === 'session') as unknown as ReturnType<LogCapture['sessions']>,
  }
}

/** A relay running in this process from a policy tree written to a temporary folder. */
export interface TestRelay {
  service: Service
  dir: string
  file: string
  logs: LogCapture
  /** Bound port of a listener by name. */
  port(listener: string): number
  adminUrl(path: string): string
  close(): Promise<void>
}

export async function startRelay(
  tree: PolicyTree,
  opts: { instances?: InstanceName[]; files?: Record<string, string> } = {},
): Promise<TestRelay> {
  const dir = await mkdtemp(join(tmpdir(), 'shg-test-'))
  const file = join(dir, 'relay.yaml')
  const cert = await testCertificate('relay.test')
  await writeFile(join(dir, 'cert.pem'), cert.cert)
  await writeFile(join(dir, 'key.pem'), cert.key)
  await writeFile(join(dir, 'users.passwd'), await credentialsLine())
  for (const [name, text] of Object.entries(opts.files ?? {})) await writeFile(join(dir, name), text)
  await writeFile(file, stringify(tree))
  const logs = captureLog()
  const service = await Service.start({ configFile: file, log: logs.log, instances: opts.instances })
  return {
    service,
    dir,
    file,
    logs,
    port(listener) {
      const bound = service.bound().find((b) => b.listener === listener)
      if (!bound) throw new Error(`no listener ${listener}`)
      return bound.port
    },
    adminUrl: (path) => `http://127.0.0.1:${service.adminAddress?.port}${path}`,
    async close() {
      await service.shutdown()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/** Waits until `test` holds, checking on every turn of the event loop, up to `ms`. */
export async function waitFor(test: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

/**
 * A sink and a relay whose next hop it is, started before the tests of the enclosing suite
 * and closed after them (node:test before/after hooks).
 */
export function relayWithSink(
  sinkOptions: SinkOptions = {},
  patch: (p: PolicyTree) => void = () => undefined,
  opts: Parameters<typeof startRelay>[1] = {},
): { readonly sink: Sink; readonly relay: TestRelay } {
  let sink: Sink | undefined
  let relay: TestRelay | undefined
  before(async () => {
    sink = await startSink(sinkOptions)
    relay = await startRelay(testPolicy([sink.port], patch), opts)
  })
  after(async () => {
    await relay?.close()
    await sink?.close()
  })
  return {
    get sink() {
      if (!sink) throw new Error('the sink is not started yet')
      return sink
    },
    get relay() {
      if (!relay) throw new Error('the relay is not started yet')
      return relay
    },
  }
}
