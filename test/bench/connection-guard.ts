import { once } from 'node:events'
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import { parseArgs } from 'node:util'
import { SMTPServer } from 'smtp-server'
import { ConnectionSlots } from '../../src/limits/connection-slots.js'
import { DEADLINES_OPTION, installSmtpServerPatches } from '../../src/smtp/smtp-server-patches.js'
import type { SessionDeadlines } from '../../src/smtp/smtp-server-patches.js'
import { median } from './stats.js'

const USAGE = `Usage: node --import tsx test/bench/connection-guard.ts [--rounds N] [--connections N]

Per-connection cost of the flood guard, in one run on this machine: connection shares
(admit and release) and the deadline timer in ns, and SMTP sessions per second (connect, greeting, EHLO, QUIT,
20 at a time) on smtp-server with the session deadlines armed, as a ratio to the same
server without them. Prints Markdown on stdout.
`

const { values: args } = parseArgs({ options: { rounds: { type: 'string' }, connections: { type: 'string' }, help: { type: 'boolean' } } })
if (args.help) {
  process.stdout.write(USAGE)
  process.exit(0)
}
const ROUNDS = Number(args.rounds ?? 5)
const CONNECTIONS = Number(args.connections ?? 2000)

function slotsCost(): number {
  const slots = new ConnectionSlots(() => ({ total: 1_000_000, reserved: 1000, perAddress: 50 }))
  const n = 1_000_000
  const started = process.hrtime.bigint()
  for (let i = 0; i < n; i++) {
    const id = `c${i}`
    slots.admit(id, `192.0.2.${i & 255}`, false)
    slots.release(id)
  }
  return Number(process.hrtime.bigint() - started) / n
}

/** What the deadlines add to a session that ends normally: one timer set and cleared. */
function timerCost(): number {
  const n = 200_000
  const noop = () => undefined
  const started = process.hrtime.bigint()
  for (let i = 0; i < n; i++) {
    const t = setTimeout(noop, 20_000)
    t.unref()
    clearTimeout(t)
  }
  return Number(process.hrtime.bigint() - started) / n
}

const DEADLINES: SessionDeadlines = {
  greetingMs: 20_000,
  handshakeMs: 10_000,
  commandMs: 300_000,
  dataMs: 600_000,
  dataMinRate: 500,
  onTimeout: () => undefined,
  withUrl: (reply) => reply,
}

async function server(deadlines: boolean): Promise<{ port: number; close: () => Promise<void> }> {
  const s = new SMTPServer({
    disabledCommands: ['STARTTLS', 'AUTH'],
    disableReverseLookup: true,
    logger: false,
    ...{ greetPauseMs: 0, ...(deadlines ? { [DEADLINES_OPTION]: DEADLINES } : {}) },
  })
  s.listen(0, '127.0.0.1')
  await once(s.server, 'listening')
  return { port: (s.server.address() as AddressInfo).port, close: () => new Promise((r) => s.close(() => r())) }
}

/** One session: greeting, EHLO, QUIT. */
function session(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' })
    let buffer = ''
    let step = 0
    socket.setEncoding('latin1')
    socket.on('data', (d: string) => {
      buffer += d
      if (!/\r\n$/.test(buffer) || /^\d{3}-/m.test(buffer.split('\r\n').at(-2) ?? '')) return
      buffer = ''
      if (step === 0) socket.write('EHLO bench.test\r\n')
      else if (step === 1) socket.write('QUIT\r\n')
      step++
    })
    socket.on('close', () => (step >= 2 ? resolve() : reject(new Error('session ended early'))))
    socket.on('error', reject)
  })
}

async function rate(port: number): Promise<number> {
  let next = 0
  const started = performance.now()
  await Promise.all(
    Array.from({ length: 20 }, async () => {
      while (next++ < CONNECTIONS) await session(port)
    }),
  )
  return CONNECTIONS / ((performance.now() - started) / 1000)
}

installSmtpServerPatches()
const ns = slotsCost()
const timerNs = timerCost()
const plain = await server(false)
const guarded = await server(true)
const ratios: number[] = []
const rates: number[] = []
for (let r = 0; r < ROUNDS; r++) {
  // Alternating which goes first, so that warming up and load changes favour neither.
  let base: number
  let withDeadlines: number
  if (r % 2) {
    base = await rate(plain.port)
    withDeadlines = await rate(guarded.port)
  } else {
    withDeadlines = await rate(guarded.port)
    base = await rate(plain.port)
  }
  ratios.push(withDeadlines / base)
  rates.push(base)
}
await plain.close()
await guarded.close()
process.stdout.write(
  `| figure | value |\n| --- | --- |\n| connection shares: admit + release | ${ns.toFixed(0)} ns |\n` +
    `| session deadline: timer set + cleared | ${timerNs.toFixed(0)} ns |\n` +
    `| sessions/s without deadlines (median of ${ROUNDS}) | ${median(rates).toFixed(0)} |\n` +
    `| sessions/s with deadlines, as a ratio (median) | ${median(ratios).toFixed(3)} |\n`,
)
