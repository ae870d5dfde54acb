import net from 'node:net'
import { ownCpuMeter } from './cpu.js'
import { quantile } from './stats.js'

/** A paced load: messages start on a fixed schedule, whatever the server's replies. */
export interface PacedLoad {
  port: number
  /** Connections, each opened once and used for one message at a time (no pipelining). */
  sessions: number
  /** Messages started per second. */
  rate: number
  seconds: number
  /** Messages started in this first part of the run are sent but not recorded. */
  warmupSeconds: number
  recipients: number
  /** Body bytes per message (headers come on top). */
  size: number
}

/** Latency from MAIL FROM to the final 250 after the message. */
export interface LatencyResult {
  /** Messages recorded (after the warm-up). */
  messages: number
  /** Messages per second actually completed over the whole run. */
  rate: number
  p50Ms: number
  p99Ms: number
  maxMs: number
  /** Messages that found every session busy and waited for one; a sign the rate was too high. */
  queued: number
  /** CPU this client used, as a fraction of one core: it must stay well below 1. */
  clientCpu: number
}

const SENDER = 'sender@client.bench.example'

/** A ~`size` byte message with short CRLF lines, none starting with a dot. */
function messageBytes(size: number): Buffer {
  const head =
    `From: <${SENDER}>\r\nTo: <rcpt@remote.bench.example>\r\nSubject: latency probe\r\n` +
    `Message-ID: <probe@client.bench.example>\r\n\r\n`
  const line = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmn\r\n'
  return Buffer.from(head + line.repeat(Math.max(1, Math.round(size / line.length))) + '.\r\n', 'latin1')
}

interface ProbeCommands {
  mail: string
  rcpts: string[]
  body: Buffer
}

interface ProbeEvents {
  ready(s: ProbeSession): void
  done(s: ProbeSession, ns: bigint, record: boolean): void
  fail(err: Error): void
}

type Step = 'greeting' | 'ehlo' | 'idle' | 'mail' | 'rcpt' | 'data' | 'body' | 'quit'

/**
 * One SMTP connection that sends a message when told and reports how long the server took
 * from MAIL FROM to the 250 after the final dot. Commands go one at a time, each after the
 * reply to the previous one, as from a client without PIPELINING.
 */
class ProbeSession {
  readonly #socket: net.Socket
  readonly #commands: ProbeCommands
  readonly #events: ProbeEvents
  #buffer = ''
  #step: Step = 'greeting'
  #rcpt = 0
  #started = 0n
  #record = false

  constructor(port: number, commands: ProbeCommands, events: ProbeEvents) {
    this.#commands = commands
    this.#events = events
    this.#socket = net.connect({ host: '127.0.0.1', port, noDelay: true })
    this.#socket.setEncoding('latin1')
    this.#socket.on('data', (d: string) => this.#onData(d))
    this.#socket.on('error', (err) => events.fail(err))
    this.#socket.on('close', () => {
      if (this.#step !== 'quit') events.fail(new Error(`connection closed while waiting for the ${this.#step} reply`))
    })
  }

  /** Starts a message; `record` says whether its latency counts. */
  send(record: boolean): void {
    this.#record = record
    this.#rcpt = 0
    this.#step = 'mail'
    this.#started = process.hrtime.bigint()
    this.#socket.write(this.#commands.mail)
  }

  quit(): void {
    if (this.#step === 'quit') return
    this.#step = 'quit'
    this.#socket.end('QUIT\r\n')
  }

  #onData(d: string): void {
    this.#buffer += d
    let end: number
    while ((end = this.#buffer.indexOf('\r\n')) !== -1) {
      const line = this.#buffer.slice(0, end)
      this.#buffer = this.#buffer.slice(end + 2)
      // Only the last line of a multi-line reply ("250-...", "250 ...") moves the dialog on.
      if (line.charCodeAt(3) !== 0x2d) this.#onReply(line)
    }
  }

  #onReply(line: string): void {
    const ok = line.startsWith(this.#step === 'data' ? '354' : this.#step === 'greeting' ? '220' : '2')
    if (!ok) {
      if (this.#step !== 'quit') this.#events.fail(new Error(`unexpected reply in ${this.#step}: ${line}`))
      return
    }
    const c = this.#commands
    switch (this.#step) {
      case 'greeting':
        this.#step = 'ehlo'
        this.#socket.write('EHLO client.bench.example\r\n')
        return
      case 'ehlo':
        this.#step = 'idle'
        this.#events.ready(this)
        return
      case 'mail':
        this.#step = 'rcpt'
        this.#socket.write(c.rcpts[0] as string)
        return
      case 'rcpt':
        if (++this.#rcpt < c.rcpts.length) {
          this.#socket.write(c.rcpts[this.#rcpt] as string)
        } else {
          this.#step = 'data'
          this.#socket.write('DATA\r\n')
        }
        return
      case 'data':
        this.#step = 'body'
        this.#socket.write(c.body)
        return
      case 'body':
        this.#step = 'idle'
        this.#events.done(this, process.hrtime.bigint() - this.#started, this.#record)
        return
      default:
        return
    }
  }
}

/**
 * Sends `rate × seconds` messages over `sessions` connections at a fixed rate (open loop: a
 * message is due on schedule; it waits only when every session is busy) and records the
 * time from MAIL FROM to the final 250 of each message.
 */
export function measureLatency(load: PacedLoad): Promise<LatencyResult> {
  const total = Math.max(1, Math.round(load.rate * load.seconds))
  const warmup = Math.min(total - 1, Math.round(load.rate * load.warmupSeconds))
  const commands: ProbeCommands = {
    mail: `MAIL FROM:<${SENDER}>\r\n`,
    rcpts: Array.from({ length: load.recipients }, (_, i) => `RCPT TO:<${i + 1}rcpt@remote.bench.example>\r\n`),
    body: messageBytes(load.size),
  }
  const latencies = new Float64Array(total)
  return new Promise((resolve, reject) => {
    const sessions: ProbeSession[] = []
    const idle: ProbeSession[] = []
    const waiting: boolean[] = []
    let settled = false
    let connected = 0
    let issued = 0
    let done = 0
    let recorded = 0
    let queued = 0
    let t0 = 0
    let timer: NodeJS.Timeout | undefined
    let cpu: () => number = () => 0

    const fail = (err: Error) => {
      if (settled) return
      settled = true
      clearInterval(timer)
      for (const s of sessions) s.quit()
      reject(err)
    }
    const dispatch = (record: boolean) => {
      const session = idle.pop()
      if (session) return session.send(record)
      queued++
      waiting.push(record)
    }
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) * load.rate) / 1000) + 1)
      while (issued < due) dispatch(issued++ >= warmup)
    }
    const finish = () => {
      settled = true
      clearInterval(timer)
      const seconds = (performance.now() - t0) / 1000
      const clientCpu = cpu()
      for (const s of sessions) s.quit()
      const sorted = latencies.subarray(0, recorded).sort()
      resolve({
        messages: recorded,
        rate: total / seconds,
        p50Ms: quantile(sorted, 0.5),
        p99Ms: quantile(sorted, 0.99),
        maxMs: sorted[recorded - 1] ?? NaN,
        queued,
        clientCpu,
      })
    }
    const events: ProbeEvents = {
      ready(s: ProbeSession) {
        idle.push(s)
        if (++connected < load.sessions) return
        cpu = ownCpuMeter()
        t0 = performance.now()
        tick()
        timer = setInterval(tick, 1)
      },
      done(s: ProbeSession, ns: bigint, record: boolean) {
        if (record) latencies[recorded++] = Number(ns) / 1e6
        if (++done === total) return finish()
        const next = waiting.shift()
        if (next === undefined) idle.push(s)
        else s.send(next)
      },
      fail,
    }
    for (let i = 0; i < load.sessions; i++) sessions.push(new ProbeSession(load.port, commands, events))
  })
}
