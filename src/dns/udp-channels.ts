import { randomInt } from 'node:crypto'
import dgram from 'node:dgram'
import net from 'node:net'
import type { DnsServer } from './servers.js'
import { decodeResponse, encodeQuery, TransportError } from './transport.js'
import type { DnsMessage, RrType } from './transport.js'

/** Queries one socket carries before a fresh one (a new random source port) takes over. */
const QUERIES_PER_SOCKET = 100
/** An idle socket is closed after this long. */
const IDLE_MS = 10_000

interface Pending {
  name: string
  type: RrType
  timer: NodeJS.Timeout
  resolve(message: DnsMessage): void
  reject(err: Error): void
}

/**
 * A UDP socket connected to one server, carrying many queries told apart by id. Connected, it
 * reads only that server's datagrams and learns at once that a port is closed (ECONNREFUSED)
 * instead of waiting for the timeout. Sockets are reused for a limited number of queries: a
 * socket per query costs more CPU than the lookup itself, one socket for ever gives a spoofer
 * a fixed port to aim at (RFC 5452 section 9.2).
 */
class Channel {
  readonly #socket: dgram.Socket
  readonly #pending = new Map<number, Pending>()
  readonly #ready: Promise<void>
  #connected: () => void = () => undefined
  #used = 0
  #closed = false
  #idle: NodeJS.Timeout | null = null
  readonly #onRetired: () => void

  constructor(server: DnsServer, onRetired: () => void) {
    this.#onRetired = onRetired
    this.#socket = dgram.createSocket(net.isIPv6(server.address) ? 'udp6' : 'udp4')
    this.#socket.unref()
    this.#socket.on('message', (data: Buffer) => this.#onMessage(data))
    this.#socket.on('error', (err: NodeJS.ErrnoException) => this.#fail(err))
    this.#ready = new Promise<void>((resolve) => (this.#connected = resolve))
    try {
      this.#socket.connect(server.port, server.address, () => this.#connected())
    } catch (err) {
      this.#socket.close()
      throw err
    }
  }

  /** True while it takes new queries. */
  get open(): boolean {
    return !this.#closed && this.#used < QUERIES_PER_SOCKET
  }

  async query(name: string, type: RrType, timeoutMs: number): Promise<DnsMessage> {
    this.#used++
    if (this.#idle) clearTimeout(this.#idle)
    this.#idle = null
    let id = randomInt(0x10000)
    while (this.#pending.has(id)) id = randomInt(0x10000)
    const { bytes } = encodeQuery(name, type, id)
    const answer = new Promise<DnsMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#settle(id)
        reject(new TransportError('ETIMEOUT', `no answer within ${timeoutMs} ms`))
      }, timeoutMs)
      this.#pending.set(id, { name, type, timer, resolve, reject })
    })
    // The caller awaits it below; a failure while connecting must not count as unhandled meanwhile.
    answer.catch(() => undefined)
    await this.#ready
    if (!this.#closed) this.#socket.send(bytes)
    return answer
  }

  #onMessage(data: Buffer): void {
    if (data.length < 2) return
    const id = data.readUInt16BE(0)
    const pending = this.#pending.get(id)
    // A stray, late or forged datagram: the query keeps waiting for its real answer.
    const message = pending ? decodeResponse(data, id, pending.name, pending.type) : null
    if (!pending || !message) return
    this.#settle(id)
    pending.resolve(message)
  }

  /** An ICMP error cannot be tied to one query: every query on this socket went to that server. */
  #fail(err: NodeJS.ErrnoException): void {
    const code = err.code === 'ECONNREFUSED' ? 'ECONNREFUSED' : 'ECONNRESET'
    const pending = [...this.#pending.values()]
    this.#pending.clear()
    this.#close()
    // A socket that failed before it was connected: the queries waiting for it are rejected.
    this.#connected()
    for (const p of pending) {
      clearTimeout(p.timer)
      p.reject(new TransportError(code, err.message))
    }
  }

  #settle(id: number): void {
    const pending = this.#pending.get(id)
    if (pending) clearTimeout(pending.timer)
    this.#pending.delete(id)
    if (this.#pending.size > 0 || this.#closed) return
    if (this.#used >= QUERIES_PER_SOCKET) this.#close()
    else (this.#idle = setTimeout(() => this.#close(), IDLE_MS)).unref()
  }

  #close(): void {
    if (this.#closed) return
    this.#closed = true
    if (this.#idle) clearTimeout(this.#idle)
    this.#socket.close()
    this.#onRetired()
  }
}

/** The UDP sockets of one resolver: one taking new queries per server, older ones finishing theirs. */
export class UdpChannels {
  readonly #current = new Map<string, Channel>()

  /** Sends one query to `server` and resolves with its answer; rejects with a TransportError. */
  query(server: DnsServer, name: string, type: RrType, timeoutMs: number): Promise<DnsMessage> {
    const key = `${server.address} ${server.port}`
    let channel = this.#current.get(key)
    if (!channel?.open) {
      const created: Channel = new Channel(server, () => {
        if (this.#current.get(key) === created) this.#current.delete(key)
      })
      channel = created
      this.#current.set(key, channel)
    }
    return channel.query(name, type, timeoutMs)
  }
}
