import net from 'node:net'

/** Messages to send, each over a new connection from the address `source(i)` gives. */
export interface MessageLoad {
  port: number
  total: number
  /** Connections open at once (closed loop). */
  concurrency: number
  /** Source address of message i: a 127.0.0.0/8 address plays a customer. */
  source: (i: number) => string
  /** Body bytes. */
  size: number
}

/** Latencies (ms) of the messages, connect to the 250 after the final dot, in the order sent. */
export interface MessageRun {
  latencies: Float64Array
  seconds: number
}

const BODY_LINE = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmn\r\n'

/**
 * Sends `total` messages, each over its own connection (as a customer's mail program does),
 * `concurrency` at a time, and times each from connect to the final 250. Commands go one at
 * a time, each after the previous reply. Any other reply than the expected one fails the run.
 */
export function sendMessages(load: MessageLoad): Promise<MessageRun> {
  const body = Buffer.from(
    'From: <bench@client.bench.example>\r\nTo: <rcpt@remote.bench.example>\r\nSubject: dns bench\r\n\r\n' +
      BODY_LINE.repeat(Math.max(1, Math.round(load.size / BODY_LINE.length))) +
      '.\r\n',
    'latin1',
  )
  const latencies = new Float64Array(load.total)
  let next = 0
  const started = performance.now()
  const one = (i: number) =>
    new Promise<void>((resolve, reject) => {
      const t0 = performance.now()
      const socket = net.connect({ host: '127.0.0.1', port: load.port, localAddress: load.source(i), noDelay: true })
      const steps = [
        { expect: '220', send: 'EHLO client.bench.example\r\n' },
        { expect: '250', send: 'MAIL FROM:<bench@client.bench.example>\r\n' },
        { expect: '250', send: 'RCPT TO:<rcpt@remote.bench.example>\r\n' },
        { expect: '250', send: 'DATA\r\n' },
        { expect: '354', send: body },
        { expect: '250', send: 'QUIT\r\n' },
      ]
      let step = 0
      let buffer = ''
      socket.setEncoding('latin1')
      socket.on('error', reject)
      socket.on('data', (d: string) => {
        buffer += d
        let end: number
        while ((end = buffer.indexOf('\r\n')) !== -1) {
          const line = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          if (line.charCodeAt(3) === 0x2d) continue
          const s = steps[step]
          if (!s) return
          if (!line.startsWith(s.expect)) {
            socket.destroy()
            return reject(new Error(`message ${i} from ${load.source(i)}: expected ${s.expect}, got ${line}`))
          }
          if (step === steps.length - 1) {
            latencies[i] = performance.now() - t0
            socket.end(s.send)
            return resolve()
          }
          socket.write(s.send)
          step++
        }
      })
    })
  const worker = async () => {
    while (next < load.total) await one(next++)
  }
  return Promise.all(Array.from({ length: load.concurrency }, worker)).then(() => ({
    latencies,
    seconds: (performance.now() - started) / 1000,
  }))
}

/**
 * A realistic mix of senders: `clients` addresses whose message counts follow a Zipf law
 * (a few business servers send most of the mail, a long tail of home lines sends a little),
 * shuffled with a fixed seed so every run sends the same sequence.
 */
export function zipfSources(clients: number, total: number, exponent: number, base: (k: number) => string): (i: number) => string {
  const weights = Array.from({ length: clients }, (_, k) => 1 / (k + 1) ** exponent)
  const sum = weights.reduce((a, b) => a + b, 0)
  const cumulative: number[] = []
  let acc = 0
  for (const w of weights) cumulative.push((acc += w / sum))
  let seed = 0x2545f491
  const random = () => {
    // xorshift32: reproducible, good enough to draw a sequence of clients.
    seed ^= seed << 13
    seed ^= seed >>> 17
    seed ^= seed << 5
    return (seed >>> 0) / 0x100000000
  }
  const sequence = Array.from({ length: total }, () => {
    const r = random()
    let lo = 0
    let hi = clients - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if ((cumulative[mid] ?? 1) < r) lo = mid + 1
      else hi = mid
    }
    return base(lo)
  })
  return (i) => sequence[i] ?? base(0)
}

/** The i-th address of 127.16.0.0/12 onwards: a customer nobody has seen yet. */
export function freshAddress(offset: number): (i: number) => string {
  return (i) => {
    const n = offset + i
    const block = Math.floor(n / 254)
    return `127.${16 + (Math.floor(block / 256) % 180)}.${block % 256}.${(n % 254) + 1}`
  }
}
