import net from 'node:net'
import tls from 'node:tls'
import { authPlain } from './smtp-client.js'

/** A seeded PRNG (mulberry32): the same seed replays the same sessions. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** The ports of the relay under attack. */
export interface HostileTarget {
  /** STARTTLS + AUTH listener of the outbound instance. */
  submission: number
  /** Implicit TLS listener of the outbound instance. */
  submissions: number
  /** The inbound MX listener. */
  mx: number
}

export const SESSION_KINDS = [
  'mutated',
  'long_line',
  'binary',
  'pipelined',
  'data',
  'starttls_garbage',
  'auth_garbage',
  'hangup',
  'slow',
  'implicit_tls_garbage',
] as const
export type SessionKind = (typeof SESSION_KINDS)[number]

const COMMANDS = [
  'EHLO pc.test', 'HELO pc.test', 'MAIL FROM:<bot@spam.test>', 'MAIL FROM:<>', 'RCPT TO:<victim@remote.test>',
  'RCPT TO:<alice@example.org>', 'RCPT TO:<"a@b"@example.net>', 'RCPT TO:<@relay.test:u@remote.test>',
  'RCPT TO:<u%remote.test@example.net>', 'RCPT TO:<remote.test!u@example.net>', 'DATA', 'BDAT 10 LAST', 'RSET', 'NOOP',
  'VRFY root', 'EXPN staff', 'HELP', 'STARTTLS', 'AUTH PLAIN', 'AUTH LOGIN', 'AUTH CRAM-MD5', 'AUTH XOAUTH2 abc',
  'XCLIENT ADDR=10.0.0.1', 'XFORWARD NAME=x', 'PROXY TCP4 10.0.0.1 10.0.0.2 1 2', 'ETRN example.net', 'TURN', 'QUIT',
  'MAIL FROM:<a@b.test> SIZE=999999999999 BODY=8BITMIME SMTPUTF8', 'RCPT TO:<x@y.test> NOTIFY=NEVER ORCPT=rfc822;x@y',
  'MAIL FROM:<\u00e4\u00f6@\u00fc.test> SMTPUTF8',
]

const pick = <T>(rand: () => number, list: readonly T[]): T => list[Math.floor(rand() * list.length)] as T
const int = (rand: () => number, min: number, max: number) => min + Math.floor(rand() * (max - min + 1))
const bytes = (rand: () => number, n: number) => Buffer.from(Array.from({ length: n }, () => int(rand, 0, 255)))

/** A command with random damage: case, inserted NUL or 8-bit bytes, truncation, stray CR/LF. */
function mutate(rand: () => number, line: string): Buffer {
  let s = Buffer.from(line, 'utf8')
  for (let i = int(rand, 0, 3); i > 0; i--) {
    const at = int(rand, 0, s.length)
    switch (int(rand, 0, 6)) {
      case 0: s = Buffer.concat([s.subarray(0, at), bytes(rand, int(rand, 1, 8)), s.subarray(at)]); break
      case 1: s = s.subarray(0, at); break
      case 2: s = Buffer.from(s.toString('latin1').toLowerCase(), 'latin1'); break
      case 3: s = Buffer.concat([s.subarray(0, at), Buffer.from([0]), s.subarray(at)]); break
      case 4: s = Buffer.concat([s.subarray(0, at), Buffer.from(pick(rand, ['\r', '\n', '\r\n', ' ', '\t'])), s.subarray(at)]); break
      case 5: s = Buffer.concat([s, s]); break
      default: s = Buffer.concat([s, Buffer.from(' '.repeat(int(rand, 1, 600)))])
    }
  }
  return Buffer.concat([s, Buffer.from(pick(rand, ['\r\n', '\r\n', '\r\n', '\n', '\r']))])
}

/** A raw client socket that keeps only the tail of what it receives. */
class Raw {
  socket: net.Socket | tls.TLSSocket
  received = ''
  closed = false
  #wake: (() => void)[] = []

  constructor(socket: net.Socket) {
    this.socket = socket
    this.#attach(socket)
  }

  #attach(socket: net.Socket | tls.TLSSocket): void {
    socket.on('data', (d: Buffer) => {
      this.received = (this.received + d.toString('latin1')).slice(-4096)
      this.#notify()
    })
    socket.on('error', () => undefined)
    socket.on('close', () => {
      this.closed = true
      this.#notify()
    })
  }

  #notify(): void {
    for (const w of this.#wake.splice(0)) w()
  }

  write(data: Buffer | string): void {
    if (!this.closed && !this.socket.destroyed) this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data)
  }

  /** Waits until what was received matches, the socket closes, or `ms` pass; true if it matched. */
  async until(pattern: RegExp, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms
    while (!pattern.test(this.received)) {
      if (this.closed || Date.now() >= deadline) return false
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, deadline - Date.now())
        this.#wake.push(() => {
          clearTimeout(t)
          resolve()
        })
      })
    }
    return true
  }

  /** Waits `ms`, or less if the socket closes. */
  async idle(ms: number): Promise<void> {
    await this.until(/(?!)/, ms)
  }

  /** Sends a line and waits for a final reply line after it. */
  async cmd(line: string | Buffer, ms = 3000): Promise<boolean> {
    this.received = ''
    this.write(typeof line === 'string' ? `${line}\r\n` : line)
    return this.until(/(^|\n)\d{3} [^\n]*\n/, ms)
  }

  async starttls(): Promise<boolean> {
    if (!(await this.cmd('STARTTLS')) || !this.received.startsWith('220')) return false
    const secure = tls.connect({ socket: this.socket, rejectUnauthorized: false })
    secure.on('error', () => undefined)
    const ok = await new Promise<boolean>((resolve) => {
      secure.once('secureConnect', () => resolve(true))
      secure.once('error', () => resolve(false))
      secure.once('close', () => resolve(false))
    })
    this.socket = secure
    this.#attach(secure)
    return ok
  }

  end(rand: () => number): void {
    const how = rand()
    if (how < 0.3 && this.socket instanceof net.Socket && !(this.socket instanceof tls.TLSSocket)) this.socket.resetAndDestroy()
    else if (how < 0.6) this.socket.destroy()
    else {
      this.write('QUIT\r\n')
      this.socket.end()
      setTimeout(() => this.socket.destroy(), 200).unref()
    }
  }
}

function connect(port: number, localAddress: string): Promise<Raw | null> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress })
    s.once('connect', () => resolve(new Raw(s)))
    s.once('error', () => resolve(null))
  })
}

/** A message body with the line endings smuggling attempts use, NUL, 8-bit and long lines. */
function hostileBody(rand: () => number): Buffer {
  const parts: Buffer[] = [Buffer.from(`Subject: fuzz ${int(rand, 0, 1e9)}\r\nFrom: <bot@spam.test>\r\n\r\n`)]
  for (let i = int(rand, 1, 30); i > 0; i--) {
    parts.push(
      pick(rand, [
        Buffer.from('hello\r\n'),
        Buffer.from('bare lf\n'),
        Buffer.from('bare cr\r'),
        Buffer.from('\n.\n'),
        Buffer.from('\r.\r'),
        Buffer.from('\r\n.\rMAIL FROM:<smuggled@spam.test>\r\n'),
        Buffer.from('..dot-stuffed\r\n'),
        Buffer.concat([bytes(rand, int(rand, 1, 200)), Buffer.from('\r\n')]),
        Buffer.from(`${'x'.repeat(int(rand, 1000, 20_000))}\r\n`),
        Buffer.from('\u0000nul\r\n'),
      ]),
    )
  }
  return Buffer.concat(parts)
}

/**
 * Runs one hostile session of `kind` against the target and resolves when it is over (each
 * ends within a few seconds: replies are awaited with short timeouts, then the client goes).
 */
export async function hostileSession(target: HostileTarget, rand: () => number, kind: SessionKind): Promise<void> {
  const from = rand() < 0.3 ? '127.0.0.1' : `127.${int(rand, 1, 254)}.${int(rand, 0, 255)}.${int(rand, 1, 254)}`
  const port = kind === 'implicit_tls_garbage' ? target.submissions : kind === 'data' && rand() < 0.5 ? target.mx : rand() < 0.8 ? target.submission : target.mx
  const c = await connect(port, from)
  if (!c) return
  try {
    // Some clients talk before the greeting (pregreet), most wait for it.
    if (kind === 'implicit_tls_garbage' || rand() < 0.1) c.write(mutate(rand, pick(rand, COMMANDS)))
    else if (!(await c.until(/^220 /, 3000))) return
    switch (kind) {
      case 'mutated':
        // A damaged line may get no reply (no line end yet, or DATA accepted): the client moves on.
        for (let i = int(rand, 1, 15); i > 0 && !c.closed; i--) await c.cmd(mutate(rand, pick(rand, COMMANDS)), 250)
        break
      case 'long_line':
        await c.cmd(Buffer.concat([Buffer.from(pick(rand, ['EHLO ', 'MAIL FROM:<', 'RCPT TO:<', 'AUTH PLAIN ', ''])), Buffer.alloc(int(rand, 1000, 200_000), 0x61), Buffer.from('\r\n')]), 2000)
        break
      case 'binary':
        for (let i = int(rand, 1, 10); i > 0 && !c.closed; i--) await c.cmd(Buffer.concat([bytes(rand, int(rand, 1, 400)), Buffer.from('\r\n')]), 250)
        break
      case 'pipelined':
        c.write(Buffer.concat(Array.from({ length: int(rand, 10, 400) }, () => mutate(rand, pick(rand, COMMANDS)))))
        await c.idle(int(rand, 50, 1000))
        break
      case 'data': {
        await c.cmd('EHLO pc.test')
        await c.cmd(`MAIL FROM:<${pick(rand, ['bot@spam.test', '', 'customer@customer.test'])}>${rand() < 0.3 ? ' BODY=8BITMIME' : ''}`)
        await c.cmd(`RCPT TO:<${pick(rand, ['alice@example.org', 'someone@example.net', 'friend@remote.test'])}>`)
        if (!(await c.cmd('DATA')) || !c.received.startsWith('354')) break
        const body = hostileBody(rand)
        if (rand() < 0.2) {
          c.write(body.subarray(0, int(rand, 0, body.length)))
          break // hang up in the middle of DATA
        }
        await c.cmd(Buffer.concat([body, Buffer.from('\r\n.\r\n')]), 8000)
        break
      }
      case 'starttls_garbage':
        await c.cmd('EHLO pc.test')
        if (await c.cmd('STARTTLS')) c.write(Buffer.concat([mutate(rand, pick(rand, COMMANDS)), bytes(rand, int(rand, 1, 2000))]))
        await c.idle(200)
        break
      case 'auth_garbage': {
        await c.cmd('EHLO pc.test')
        if (rand() < 0.7 && !(await c.starttls())) break
        await c.cmd('EHLO pc.test')
        for (let i = int(rand, 1, 8); i > 0 && !c.closed; i--) {
          const line = pick(rand, [
            authPlain('alice', `guess${i}`),
            `AUTH PLAIN ${bytes(rand, int(rand, 1, 300)).toString('base64')}`,
            'AUTH PLAIN ====',
            'AUTH LOGIN',
            `AUTH LOGIN ${Buffer.from('alice').toString('base64')}`,
            '*',
            Buffer.concat([bytes(rand, 40), Buffer.from('\r\n')]).toString('latin1'),
          ])
          await c.cmd(line, 500)
        }
        break
      }
      case 'hangup':
        c.write(mutate(rand, pick(rand, COMMANDS)).subarray(0, int(rand, 0, 10)))
        break
      case 'slow':
        for (const ch of mutate(rand, pick(rand, COMMANDS)).subarray(0, 30)) {
          c.write(Buffer.from([ch]))
          await c.idle(int(rand, 5, 40))
        }
        await c.until(/\n/, 500)
        break
      case 'implicit_tls_garbage':
        c.write(bytes(rand, int(rand, 1, 3000)))
        await c.idle(100)
        break
    }
  } finally {
    c.end(rand)
  }
}
