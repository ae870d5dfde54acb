import { SMTPServer } from 'smtp-server'
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js'
import nodemailer from 'nodemailer'

// The stack's own ceiling: the smallest relay that can be built on smtp-server and a nodemailer
// pool, with no checks, no records, no logs, no metrics. It takes a message, sends it on to the
// sink and answers 250 only after the sink accepted it (as the relay does).
// `node --import tsx test/bench/minimal-relay.ts <listen port> <sink port> <pool size>`; prints "READY" when listening.

// smtp-server waits 100 ms before every greeting (to catch early talkers); the relay makes that
// its greet_pause, 0 by default, and so does the ceiling. No reverse lookup either: no checks.
interface Init {
  init(this: { _setListeners(done: () => void): void; connectionReady(): void }): void
}
;(SMTPConnection.prototype as unknown as Init).init = function greetAtOnce() {
  this._setListeners(() => this.connectionReady())
}

const [port = 0, sinkPort = 0, pool = 20] = process.argv.slice(2).map(Number)
const transport = nodemailer.createTransport({
  host: '127.0.0.1',
  port: sinkPort,
  secure: false,
  ignoreTLS: true,
  pool: true,
  maxConnections: pool,
  maxMessages: Infinity,
})

const server = new SMTPServer({
  authOptional: true,
  disableReverseLookup: true,
  disabledCommands: ['AUTH', 'STARTTLS'],
  logger: false,
  onData(stream, session, callback) {
    const chunks: Buffer[] = []
    stream.on('data', (c: Buffer) => chunks.push(c))
    stream.on('end', () => {
      const envelope = { from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address) }
      transport.sendMail({ envelope, raw: Buffer.concat(chunks) }).then(
        () => callback(),
        (err: Error) => callback(Object.assign(new Error(`451 ${err.message}`), { responseCode: 451 })),
      )
    })
  },
})
server.listen(port, '127.0.0.1', () => process.stdout.write('READY\n'))
process.on('SIGTERM', () => server.close(() => process.exit(0)))
