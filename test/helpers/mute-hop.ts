import { once } from 'node:events'
import net from 'node:net'
import type { AddressInfo } from 'node:net'

/** What a mute next hop does once it has read a whole message. */
export type MuteMode = 'close' | 'silent'

/**
 * A next hop that speaks SMTP normally until the final dot, reads the whole message, then
 * either closes the connection without a reply (`close`) or never answers (`silent`): the
 * cases where the message may or may not have been queued.
 */
export async function startMuteHop(mode: MuteMode): Promise<{ port: number; messages: string[]; drop(): void; close(): Promise<void> }> {
  const messages: string[] = []
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
    socket.on('error', () => undefined)
    socket.setEncoding('latin1')
    let buffer = ''
    let inData = false
    const reply = (line: string) => socket.write(`${line}\r\n`)
    reply('220 mute.test ESMTP')
    socket.on('data', (chunk: string) => {
      buffer += chunk
      for (;;) {
        if (inData) {
          const end = buffer.indexOf('\r\n.\r\n')
          if (end < 0) return
          messages.push(buffer.slice(0, end + 2))
          buffer = buffer.slice(end + 5)
          inData = false
          if (mode === 'close') socket.destroy()
          continue
        }
        const at = buffer.indexOf('\r\n')
        if (at < 0) return
        const line = buffer.slice(0, at)
        buffer = buffer.slice(at + 2)
        const verb = line.slice(0, 4).toUpperCase()
        if (verb === 'EHLO') reply('250-mute.test\r\n250-PIPELINING\r\n250 8BITMIME')
        else if (verb === 'DATA') {
          inData = true
          reply('354 go ahead')
        } else if (verb === 'QUIT') {
          reply('221 bye')
          socket.end()
        } else reply('250 2.0.0 Ok')
      }
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    port: (server.address() as AddressInfo).port,
    messages,
    /** Cuts every open connection. */
    drop: () => {
      for (const s of sockets) s.destroy()
    },
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
