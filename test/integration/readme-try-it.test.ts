import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { eventually } from '../helpers/eventually.js'
import { README, ROOT } from '../helpers/update-docs.js'

// The README's "Try it" is the first thing a new postmaster runs: every command line of it runs
// here as written, in order, against a relay on the default policy and the demo sink, and must
// give the result written after its `→` (an SMTP reply, an HTTP status or an exit status; no
// arrow: exit 0).
//
// What the test changes, and why:
// * The policy tree is a copy in a temporary directory, which is also the commands' working
//   directory, so `var/` (users, token, pid file, quarantine) is a throwaway one.
// * The default ports (2525, 2465, 2526, 2500, 9465, 9466) are replaced by free ones, in the copy
//   and in the command lines alike, so the test cannot collide with another test or a relay the
//   developer runs; the sink, which listens on 2500 by default, is given the replacement port.
// * `npm start` and `npx smarthost-guard` run src/main.ts through tsx (npm test does not build
//   dist/), with $SMARTHOST_GUARD_CONFIG naming the copy.
// * The password typed at `passwd` is given on standard input, as the command reads it when
//   standard input is not a terminal.

const MAIN = join(ROOT, 'src', 'main.ts')
// Resolved here: the commands run in the demo directory, where `--import tsx` would not find it.
const TSX = import.meta.resolve('tsx')
const DEFAULT_PORTS: readonly number[] = [2525, 2465, 2526, 2500, 9465, 9466]
const SINK_PORT = 2500
const ADMIN_PORT = 9465
const PASSWORD = 's3cret'
const LINE_TIMEOUT_MS = 60_000

type Expected =
  | { kind: 'smtp'; code: string; enhanced: string }
  | { kind: 'http'; status: string }
  | { kind: 'exit'; status: number }

interface TryItLine {
  command: string
  expected: Expected
  /** A long-running command of its own terminal (the relay, the sink). */
  background: boolean
}

/** The command lines of the README's "Try it" section, with the result each documents. */
function tryItLines(readme: string): TryItLine[] {
  const start = readme.indexOf('\n## Try it\n')
  assert.ok(start >= 0, 'README.md has no "## Try it" section')
  const end = readme.indexOf('\n## ', start + 1)
  const section = readme.slice(start, end < 0 ? undefined : end)
  const lines: TryItLine[] = []
  for (const [, block = ''] of section.matchAll(/^```sh\n([\s\S]*?)^```$/gm)) {
    for (const raw of block.split('\n')) {
      const line = raw.trim()
      if (line === '' || line.startsWith('#')) continue
      const [, command = line, comment = ''] = /^(.*?)\s+#\s(.*)$/.exec(line) ?? []
      lines.push({ command, expected: expectedOf(comment), background: /\bterminal \d\b/.test(comment) })
    }
  }
  return lines
}

function expectedOf(comment: string): Expected {
  const result = /→\s*(.+)$/.exec(comment)?.[1]?.trim()
  if (result === undefined) return { kind: 'exit', status: 0 }
  const exit = /^exit (\d+)$/.exec(result)
  if (exit) return { kind: 'exit', status: Number(exit[1]) }
  const smtp = /^([245]\d\d) ([245]\.\d{1,3}\.\d{1,3})$/.exec(result)
  if (smtp) return { kind: 'smtp', code: smtp[1] ?? '', enhanced: smtp[2] ?? '' }
  const http = /^([1-5]\d\d)$/.exec(result)
  if (http) return { kind: 'http', status: http[1] ?? '' }
  throw new Error(`cannot read the documented result "${result}"`)
}

/** `count` distinct free loopback ports. */
async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer())
  for (const s of servers) {
    s.listen(0, '127.0.0.1')
    await once(s, 'listening')
  }
  const ports = servers.map((s) => (s.address() as AddressInfo).port)
  for (const s of servers) s.close()
  return ports
}

/** Shell functions that make `npm start` and `npx smarthost-guard` run this tree's sources. */
const PRELUDE = `
npm() { if [ "$1" = start ]; then exec node --import "$SHG_TSX" "$SHG_MAIN" serve; else command npm "$@"; fi; }
npx() { if [ "$1" = smarthost-guard ]; then shift; node --import "$SHG_TSX" "$SHG_MAIN" "$@"; else command npx "$@"; fi; }
`

interface Demo {
  dir: string
  env: NodeJS.ProcessEnv
  port: (defaultPort: number) => number
  localize: (command: string) => string
}

async function demo(): Promise<Demo> {
  const dir = mkdtempSync(join(tmpdir(), 'smarthost-try-it-'))
  cpSync(join(ROOT, 'policies'), join(dir, 'policies'), { recursive: true })
  const free = await freePorts(DEFAULT_PORTS.length)
  const mapped = new Map(DEFAULT_PORTS.map((p, i) => [p, free[i] as number]))
  const port = (p: number) => mapped.get(p) ?? p
  const localize = (text: string) => text.replace(/\b(2525|2465|2526|2500|9465|9466)\b/g, (p) => String(port(Number(p))))
  const tree = join(dir, 'policies', 'relay.yaml')
  writeFileSync(tree, localize(readFileSync(tree, 'utf8')))
  return { dir, env: { ...process.env, SMARTHOST_GUARD_CONFIG: tree, SHG_MAIN: MAIN, SHG_TSX: TSX }, port, localize }
}

interface Ran {
  status: number | null
  output: string
}

/** Runs one command line through bash in the demo directory and waits for it. */
async function run(d: Demo, command: string): Promise<Ran> {
  const child = spawn('bash', ['-c', `${PRELUDE}\n${command}`], { cwd: d.dir, env: d.env, stdio: 'pipe' })
  let output = ''
  child.stdout.on('data', (b: Buffer) => (output += b.toString()))
  child.stderr.on('data', (b: Buffer) => (output += b.toString()))
  child.stdin.end(`${PASSWORD}\n`)
  const timer = setTimeout(() => child.kill('SIGKILL'), LINE_TIMEOUT_MS)
  const [status] = (await once(child, 'exit')) as [number | null]
  clearTimeout(timer)
  return { status, output }
}

interface Background {
  child: ChildProcess
  output: () => string
  stop: () => Promise<void>
}

/** Starts a long-running command line in its own process group. */
function background(d: Demo, command: string): Background {
  const child = spawn('bash', ['-c', `${PRELUDE}\n${command}`], { cwd: d.dir, env: d.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  let output = ''
  child.stdout?.on('data', (b: Buffer) => (output += b.toString()))
  child.stderr?.on('data', (b: Buffer) => (output += b.toString()))
  const exited = once(child, 'exit')
  return {
    child,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.pid === undefined) return
      process.kill(-child.pid, 'SIGTERM')
      await exited
    },
  }
}

async function httpGet(url: string): Promise<{ status: number; body: string }> {
  try {
    const res = await fetch(url)
    return { status: res.status, body: await res.text() }
  } catch {
    return { status: 0, body: '' }
  }
}

/** `smarthost_config_reloads_total` of the running relay. */
async function reloads(d: Demo): Promise<number> {
  const { body } = await httpGet(`http://127.0.0.1:${d.port(ADMIN_PORT)}/metrics`)
  return Number(/^smarthost_config_reloads_total (\d+)/m.exec(body)?.[1] ?? 0)
}

function assertResult(line: TryItLine, ran: Ran): void {
  const shown = `${line.command}\n--- output (exit ${ran.status}) ---\n${ran.output}`
  const e = line.expected
  if (e.kind === 'exit') return assert.equal(ran.status, e.status, shown)
  if (e.kind === 'http') {
    assert.equal(ran.status, 0, shown)
    return assert.match(ran.output, new RegExp(`^HTTP/\\S+ ${e.status}\\b`, 'm'), shown)
  }
  // swaks marks the server's lines with <- (<~ over TLS), and a refusal with <** (<~*).
  const escaped = `${e.code} ${e.enhanced.replace(/\./g, '\\.')}`
  if (e.code.startsWith('2')) {
    assert.equal(ran.status, 0, shown)
    assert.match(ran.output, new RegExp(`^\\s*<[-~]\\s+${escaped}\\b`, 'm'), shown)
  } else {
    assert.match(ran.output, new RegExp(`^\\s*<~?\\*+\\s+${escaped}\\b`, 'm'), shown)
  }
}

/** The statistics lines come after the relayed message: they must show it, not an empty table. */
function assertFigures(command: string, output: string): void {
  if (/^npx smarthost-guard stats top\b/.test(command)) {
    assert.match(output, /^top address by messages, last 15m /m, output)
    assert.match(output, /^127\.0\.0\.1\s+\d+\s+[1-9]/m, output)
  }
  if (/^npx smarthost-guard stats show 127\.0\.0\.1\b/.test(command)) {
    assert.match(output, /^address:127\.0\.0\.1 /m, output)
    assert.match(output, /^recent messages:\n.* delivered from=<alice@customer\.test> to remote\.test/m, output)
  }
}

describe('README Try it', () => {
  it('documents the relay, the sink and a command line for a relayed, a refused and a scanned message', () => {
    const lines = tryItLines(read())
    const background = lines.filter((l) => l.background).map((l) => l.command)
    assert.deepEqual(background, ['npm start', 'npx smarthost-guard sink'])
    const replies = lines.filter((l) => l.expected.kind === 'smtp').map((l) => (l.expected as { code: string }).code)
    for (const code of ['250', '554', '550']) assert.ok(replies.includes(code), `a line answered ${code}`)
    assert.ok(lines.some((l) => l.command.startsWith('npx smarthost-guard scan ')), 'a scan line')
    assert.ok(lines.some((l) => l.command.startsWith('npx smarthost-guard stats top')), 'a stats top line')
    assert.ok(lines.some((l) => l.command.startsWith('npx smarthost-guard stats show ')), 'a stats show line')
  })

  // About 20 command lines, a dozen of them starting node with tsx: slow on a loaded machine.
  it('runs every command line as written, with the result written next to it', { timeout: 300_000 }, async (t) => {
    const lines = tryItLines(read())
    const d = await demo()
    const started: Background[] = []
    t.after(async () => {
      for (const b of started.reverse()) await b.stop()
      rmSync(d.dir, { recursive: true, force: true })
    })

    const relayLine = lines.find((l) => l.background && l.command === 'npm start')
    const sinkLine = lines.find((l) => l.background && l.command.startsWith('npx smarthost-guard sink'))
    assert.ok(relayLine && sinkLine)
    const relay = background(d, relayLine.command)
    started.push(relay)
    const sink = background(d, `${d.localize(sinkLine.command)} --port ${d.port(SINK_PORT)}`)
    started.push(sink)
    await eventually(
      () => httpGet(`http://127.0.0.1:${d.port(ADMIN_PORT)}/readyz`),
      (r) => r.status === 200 || relay.child.exitCode !== null,
      { ms: 60_000, what: 'the relay to be ready' },
    )
    assert.equal(relay.child.exitCode, null, `the relay exited: ${relay.output()}`)
    await eventually(
      () => Promise.resolve(sink.output()),
      (out) => /listening/.test(out) || sink.child.exitCode !== null,
      { ms: 60_000, what: 'the sink to listen' },
    )

    for (const line of lines.filter((l) => !l.background)) {
      await t.test(line.command, async () => {
        const before = /\bsmarthost-guard reload\b/.test(line.command) ? await reloads(d) : undefined
        const ran = await run(d, d.localize(line.command))
        assertResult(line, ran)
        assertFigures(line.command, ran.output)
        // A reload applies in the background; the next line needs the new policy.
        if (before !== undefined) {
          await eventually(() => reloads(d), (n) => n > before, { ms: 30_000, what: 'the reload to apply' })
        }
      })
    }

    await t.test(`${sinkLine.command}: prints each message's header block, with our Received: header`, () => {
      assert.match(sink.output(), /^Received: from /m, sink.output())
    })
  })
})

function read(): string {
  return readFileSync(README, 'utf8')
}
