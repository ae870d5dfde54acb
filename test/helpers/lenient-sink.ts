import { once } from 'node:events'
import net from 'node:net'
import type { AddressInfo } from 'node:net'

// The end-of-data sequences a lenient (smuggling-vulnerable) server accepts besides CRLF.CRLF.
const TERMINATORS = ['\r\n.\r\n', '\n.\n', '\r.\r', '\n.\r\n', '\r\n.\n', '\r.\r\n', '\r\n.\r', '\n.\r']

/** A transaction as a lenient server understood it. */
export interface LenientTransaction {
  from: string
  to: string[]
  data: string
}

/**
 * A deliberately vulnerable SMTP next hop: it reads commands line by line with bare LF or
 * CR accepted as line ends, and ends DATA at the first of several ambiguous sequences
 * (`\n.\n`, `\r.\r`, …). If the relay ever emits bytes that such a server reads as two
 * transactions, this sink records two.
 */
export async function startLenientSink(): Promise<{ port: number; transactions: LenientTransaction[]; close(): Promise<void> }> {
  const transactions: LenientTransaction[] = []
  const server = net.createServer((socket) => {
    socket.setEncoding('latin1')
    let buffer = ''
    let inData = false
    let tx: LenientTransaction = { from: '', to: [], data: '' }
    const reply = (line: string) => socket.write(`${line}\r\n`)
    reply('220 lenient.test ESMTP')
    socket.on('data', (chunk: string) => {
      buffer += chunk
      for (;;) {
        if (inData) {
          const ends = TERMINATORS.map((t) => [buffer.indexOf(t), t.length] as const).filter(([i]) => i >= 0)
          if (!ends.length) return
          const [at, len] = ends.reduce((a, b) => (b[0] < a[0] ? b : a))
          tx.data = buffer.slice(0, at)
          buffer = buffer.slice(at + len)
          inData = false
          transactions.push(tx)
          tx = { from: '', to: [], data: '' }
          reply('250 2.0.0 Ok: queued')
          continue
        }
        const m = /\r\n|\n|\r/.exec(buffer)
        if (!m) return
        const line = buffer.slice(0, m.index)
        buffer = buffer.slice(m.index + m[0].length)
        const verb = line.slice(0, 4).toUpperCase()
        if (verb === 'EHLO' || verb === 'HELO') reply('250 lenient.test')
        else if (verb === 'MAIL') {
          tx.from = /<([^>]*)>/.exec(line)?.[1] ?? ''
          reply('250 2.1.0 Ok')
        } else if (verb === 'RCPT') {
          tx.to.push(/<([^>]*)>/.exec(line)?.[1] ?? '')
          reply('250 2.1.5 Ok')
        } else if (verb === 'DATA') {
          inData = true
          reply('354 go ahead')
        } else if (verb === 'QUIT') {
          reply('221 2.0.0 Bye')
          socket.end()
          return
        } else if (verb === 'RSET' || verb === 'NOOP') reply('250 2.0.0 Ok')
        else if (line.length) reply('502 5.5.2 unknown')
      }
    })
    socket.on('error', () => undefined)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    port: (server.address() as AddressInfo).port,
    transactions,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
