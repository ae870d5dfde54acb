import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { SMTPServer } from 'smtp-server'
import { relayWithSink } from '../helpers/relay.js'
import { SmtpDialog } from '../helpers/smtp-client.js'

// Memory under hostile load levels off only if a closed session leaves nothing behind. The
// relay's server-side connections are watched through WeakRefs and a real garbage collection.

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

interface Watched {
  localPort: number
}
const connections: WeakRef<Watched>[] = []
const proto = SMTPServer.prototype as unknown as { connect(this: { connections: Set<Watched> }, ...args: unknown[]): void }
// eslint-disable-next-line @typescript-eslint/unbound-method -- called below with the server as `this`
const connect = proto.connect
proto.connect = function watchedConnect(...args) {
  connect.apply(this, args)
  const made = [...this.connections].at(-1)
  if (made) connections.push(new WeakRef(made))
}

describe('memory of closed sessions', () => {
  const env = relayWithSink()

  it('keeps no STARTTLS session once it has closed (beyond a bounded sweep)', async () => {
    const port = env.relay.port('submission')
    const sessions = 400
    let started = 0
    const client = async () => {
      while (started < sessions) {
        started++
        const c = await SmtpDialog.open({ port })
        await c.greeting
        await c.cmd('EHLO pc.test')
        await c.starttls()
        await c.quit()
      }
    }
    await Promise.all(Array.from({ length: 8 }, client))
    for (let i = 0; i < 5; i++) {
      await new Promise((resolve) => setImmediate(resolve))
      gc()
    }
    const live = connections.filter((w) => w.deref()?.localPort === port).length
    // The listener sweeps closed sockets each time its set doubles from 256.
    assert.ok(live <= 256, `${live} of ${sessions} closed STARTTLS sessions still in memory`)
  })
})
