import { randomInt } from 'node:crypto'
import net from 'node:net'
import dnsPacket from 'dns-packet'
import type { Answer } from 'dns-packet'
import type { DnsServer } from './servers.js'

/** Record types the relay asks for. */
export const RR_TYPES = ['A', 'AAAA', 'TXT', 'MX', 'PTR', 'CNAME', 'NS', 'SOA'] as const
export type RrType = (typeof RR_TYPES)[number]

/** A resource record as dns-packet decodes it (`data` depends on the type). */
export type DnsRecord = Answer

/** The parts of a response the resolver uses. */
export interface DnsMessage {
  /** "NOERROR", "NXDOMAIN", "SERVFAIL", "REFUSED"… */
  rcode: string
  /** TC bit: the answer did not fit in a UDP datagram (RFC 1035 section 4.2.1). */
  truncated: boolean
  answers: DnsRecord[]
  authorities: DnsRecord[]
}

/** A query that got no usable response from one server: timeout, refused port, garbage. */
export class TransportError extends Error {
  readonly code: 'ETIMEOUT' | 'ECONNREFUSED' | 'EBADRESP' | 'ECONNRESET'

  constructor(code: TransportError['code'], message: string) {
    super(message)
    this.name = 'TransportError'
    this.code = code
  }
}

/** The wire form of a recursive query for `name`/`type`; the id is random (RFC 5452 section 3). */
export function encodeQuery(name: string, type: RrType, id = randomInt(0x10000)): { id: number; bytes: Buffer } {
  const bytes = dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name }] })
  return { id, bytes }
}

/** Parses a response and checks that it answers our question; null otherwise. */
export function decodeResponse(bytes: Buffer, id: number, name: string, type: RrType): DnsMessage | null {
  let packet: dnsPacket.DecodedPacket
  try {
    packet = dnsPacket.decode(bytes)
  } catch {
    return null
  }
  const q = packet.questions?.[0]
  // RFC 5452 section 4.3: accept only a reply to the question we asked, with our id.
  if (packet.id !== id || !packet.flag_qr) return null
  if (!q || q.type !== type || q.name.toLowerCase() !== name.toLowerCase()) return null
  return {
    rcode: (packet as { rcode?: string }).rcode ?? 'NOERROR',
    truncated: packet.flag_tc,
    answers: packet.answers ?? [],
    authorities: packet.authorities ?? [],
  }
}

/** One query over TCP (RFC 1035 section 4.2.2: two-byte length prefix), for truncated answers. */
export function queryTcp(server: DnsServer, name: string, type: RrType, timeoutMs: number): Promise<DnsMessage> {
  const { id, bytes } = encodeQuery(name, type)
  const length = Buffer.alloc(2)
  length.writeUInt16BE(bytes.length)
  const socket = net.connect({ host: server.address, port: server.port })
  return new Promise<DnsMessage>((resolve, reject) => {
    let received = Buffer.alloc(0)
    let settled = false
    const done = (err: Error | null, message?: DnsMessage) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.removeAllListeners('data')
      socket.on('error', () => undefined)
      socket.destroy()
      if (err) reject(err)
      else resolve(message as DnsMessage)
    }
    const timer = setTimeout(() => done(new TransportError('ETIMEOUT', `no answer over TCP within ${timeoutMs} ms`)), timeoutMs)
    socket.on('error', (err: NodeJS.ErrnoException) =>
      done(new TransportError(err.code === 'ECONNREFUSED' ? 'ECONNREFUSED' : 'ECONNRESET', err.message)),
    )
    socket.on('end', () => done(new TransportError('ECONNRESET', 'the server closed the TCP connection without an answer')))
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk])
      if (received.length < 2) return
      const size = received.readUInt16BE(0)
      if (received.length < 2 + size) return
      const message = decodeResponse(received.subarray(2, 2 + size), id, name, type)
      done(message ? null : new TransportError('EBADRESP', 'the TCP answer does not match the question'), message ?? undefined)
    })
    socket.write(Buffer.concat([length, bytes]))
  })
}
