import { isIP, isIPv4, isIPv6 } from 'node:net'
import type { Socket } from 'node:net'
import { Command, IPv4ProxyAddress, IPv6ProxyAddress, V1ProxyProtocol, V2ProxyProtocol } from 'proxy-protocol-js'

// PROXY protocol v1 and v2 (https://www.haproxy.org/download/2.8/doc/proxy-protocol.txt):
// the load balancer's first bytes on a connection name the real client. proxy-protocol-js
// parses the header; this file only frames it on the socket (how many bytes belong to it).

/** What a header said: the client's address and port, or nothing (LOCAL / UNKNOWN: a health check). */
export interface ProxyHeader {
  readonly version: 1 | 2
  readonly source: { readonly address: string; readonly port: number } | null
}

const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a])
const V1_SIGNATURE = Buffer.from('PROXY ')
/** v1: at most 107 bytes including CRLF (section 2.1). */
const V1_MAX = 107
/** v2: 16 bytes, then the address block and TLVs; more than this is not a header we accept. */
const V2_MAX = 16 + 2048

/** A header that is missing, malformed or too slow. */
export class ProxyHeaderError extends Error {}

/** Whether `buf` could still become the start of a header (a prefix of a signature, or one). */
function startsLike(buf: Buffer, signature: Buffer): boolean {
  const n = Math.min(buf.length, signature.length)
  return buf.subarray(0, n).equals(signature.subarray(0, n))
}

/** Parses a complete header at the start of `buf`: the header and its length, or null if more bytes are needed. */
export function parseProxyHeader(buf: Buffer): { header: ProxyHeader; length: number } | null {
  if (startsLike(buf, V2_SIGNATURE)) {
    if (buf.length < 16) return null
    const length = 16 + buf.readUInt16BE(14)
    if (length > V2_MAX) throw new ProxyHeaderError(`v2 header of ${length} bytes is too long`)
    if (buf.length < length) return null
    return { header: parseV2(buf.subarray(0, length)), length }
  }
  if (startsLike(buf, V1_SIGNATURE)) {
    const end = buf.indexOf('\r\n')
    if (end < 0) {
      if (buf.length >= V1_MAX) throw new ProxyHeaderError('v1 header without CRLF within 107 bytes')
      return null
    }
    if (end + 2 > V1_MAX) throw new ProxyHeaderError('v1 header longer than 107 bytes')
    return { header: parseV1(buf.subarray(0, end + 2).toString('latin1')), length: end + 2 }
  }
  throw new ProxyHeaderError('the connection does not start with a PROXY protocol header')
}

function parseV1(line: string): ProxyHeader {
  // "PROXY UNKNOWN…": the balancer does not know the client (a health check); section 2.1.
  if (/^PROXY UNKNOWN(\s|\r\n)/.test(line)) return { version: 1, source: null }
  let parsed
  try {
    parsed = V1ProxyProtocol.parse(line)
  } catch (err) {
    throw new ProxyHeaderError(`malformed v1 header: ${(err as { message?: string }).message ?? String(err)}`)
  }
  const address = parsed.source.ipAddress
  const family = String(parsed.inetProtocol)
  if ((family === 'TCP4' && !isIPv4(address)) || (family === 'TCP6' && !isIPv6(address)) || isIP(address) === 0) {
    throw new ProxyHeaderError(`v1 header with a bad ${family} source address`)
  }
  const port = parsed.source.port
  if (!(port >= 0 && port <= 65535)) throw new ProxyHeaderError('v1 header with a bad source port')
  return { version: 1, source: { address, port } }
}

function parseV2(buf: Buffer): ProxyHeader {
  let parsed
  try {
    parsed = V2ProxyProtocol.parse(new Uint8Array(buf))
  } catch (err) {
    throw new ProxyHeaderError(`malformed v2 header: ${(err as { message?: string }).message ?? String(err)}`)
  }
  // LOCAL: the balancer's own connection (health check); the socket's address stands.
  if (parsed.command === Command.LOCAL) return { version: 2, source: null }
  const a = parsed.proxyAddress
  if (a instanceof IPv4ProxyAddress) return { version: 2, source: { address: a.sourceAddress.address.join('.'), port: a.sourcePort } }
  if (a instanceof IPv6ProxyAddress) {
    const bytes = a.sourceAddress.address
    const groups = [0, 2, 4, 6, 8, 10, 12, 14].map((i) => (((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16))
    return { version: 2, source: { address: groups.join(':'), port: a.sourcePort } }
  }
  // UNIX or UNSPEC: no IP client to speak of.
  return { version: 2, source: null }
}

/**
 * Reads a PROXY header from the first bytes of `socket` (paused mode, as smtp-server reads
 * it), gives back any bytes after it, and resolves with what it said. Rejects with
 * ProxyHeaderError on anything else, or when no complete header came within `timeoutMs`.
 */
export function readProxyHeader(socket: Socket, timeoutMs: number): Promise<ProxyHeader> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0)
    const finish = (err: Error | null, header?: ProxyHeader) => {
      clearTimeout(timer)
      socket.removeListener('readable', onReadable)
      socket.removeListener('close', onClose)
      socket.removeListener('end', onClose)
      socket.removeListener('error', onError)
      if (err) reject(err)
      else resolve(header as ProxyHeader)
    }
    const onReadable = () => {
      let chunk: Buffer | null
      while ((chunk = socket.read() as Buffer | null) !== null) {
        buf = Buffer.concat([buf, chunk])
        let parsed
        try {
          parsed = parseProxyHeader(buf)
        } catch (err) {
          return finish(err as Error)
        }
        if (!parsed) continue
        if (buf.length > parsed.length) socket.unshift(buf.subarray(parsed.length))
        return finish(null, parsed.header)
      }
    }
    const onClose = () => finish(new ProxyHeaderError('the connection closed before a PROXY header arrived'))
    const onError = (err: Error) => finish(err)
    const timer = setTimeout(() => finish(new ProxyHeaderError(`no PROXY header within ${timeoutMs} ms`)), timeoutMs)
    timer.unref()
    socket.on('readable', onReadable)
    socket.on('close', onClose)
    socket.on('end', onClose)
    socket.on('error', onError)
  })
}
