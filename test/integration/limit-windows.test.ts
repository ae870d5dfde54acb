import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { eventually } from '../helpers/eventually.js'
import type { PolicyTree } from '../helpers/relay.js'
import { relayWithSink } from '../helpers/relay.js'
import { authPlain, message, SmtpDialog } from '../helpers/smtp-client.js'
import type { Reply } from '../helpers/smtp-client.js'

// Each limit with a 1 s window (the relay's smallest) on its own relay: it triggers with the
// right reply, and the same request succeeds again once the window has passed. Every
// customer address here is in 127.0.7.0/24, the class `tight`; other classes are unlimited.

const URL_OF = (reason: string) => `; see https://postmaster.example.net/why/${reason}`

function tight(checks: PolicyTree[]): (p: PolicyTree) => void {
  return (p) => {
    p.instances.outbound.relay.networks = ['127.0.0.0/8']
    p.instances.outbound.classes = { networks: [{ class: 'tight', cidrs: ['127.0.7.0/24', '127.0.6.0/24'] }] }
    p.instances.outbound.checks = checks
  }
}

async function session(port: number, localAddress: string): Promise<SmtpDialog> {
  const c = await SmtpDialog.open({ port, localAddress })
  const greeting = await c.greeting
  if (greeting.code === 220) await c.cmd('EHLO pc.test')
  return c
}

/** Opens a session and says MAIL FROM; returns the reply (or the greeting, if it refused). */
async function mailFrom(port: number, localAddress: string, from: string): Promise<Reply> {
  const c = await SmtpDialog.open({ port, localAddress })
  const greeting = await c.greeting
  if (greeting.code !== 220) return greeting
  await c.cmd('EHLO pc.test')
  const r = await c.cmd(`MAIL FROM:<${from}>`)
  await c.quit()
  return r
}

describe('connect.concurrency: connections at once per address', () => {
  const env = relayWithSink({}, tight([{ check: 'connect.concurrency', limits: { tight: 2 } }]))

  it('refuses the third connection at once with 421 4.7.0 and admits one again when another closes', async () => {
    const port = env.relay.port('submission')
    const a = await SmtpDialog.open({ port, localAddress: '127.0.7.1' })
    const b = await SmtpDialog.open({ port, localAddress: '127.0.7.1' })
    assert.equal((await a.greeting).code, 220)
    assert.equal((await b.greeting).code, 220)
    const c = await SmtpDialog.open({ port, localAddress: '127.0.7.1' })
    assert.equal(
      (await c.greeting).line,
      `421 4.7.0 Too many connections from your address at once (limit 2); close idle connections or try again in a few minutes${URL_OF('connection-limit')}`,
    )
    // Another address of the class has slots of its own.
    const other = await SmtpDialog.open({ port, localAddress: '127.0.7.2' })
    assert.equal((await other.greeting).code, 220)
    await a.quit()
    const { value } = await eventually(
      async () => {
        const d = await SmtpDialog.open({ port, localAddress: '127.0.7.1' })
        const g = await d.greeting
        d.destroy()
        return g.code
      },
      (code) => code === 220,
      { what: 'a slot after a connection closed' },
    )
    assert.equal(value, 220)
    await Promise.all([b.quit(), other.quit()])
  })
})

describe('connect.rate: connections per address and window', () => {
  const env = relayWithSink({}, tight([{ check: 'connect.rate', limits: { tight: '2/1s' } }]))

  it('refuses the third connection in a second with 421 4.7.0, and admits one after the window', async () => {
    const port = env.relay.port('submission')
    const greet = async () => {
      const c = await SmtpDialog.open({ port, localAddress: '127.0.7.3' })
      const g = await c.greeting
      c.destroy()
      return g
    }
    const started = Date.now()
    assert.equal((await greet()).code, 220)
    assert.equal((await greet()).code, 220)
    const refused = await greet()
    assert.equal(refused.line, `421 4.7.0 Too many connections from your address (limit 2 per 1s); try again in 1 s${URL_OF('connection-rate')}`)
    await eventually(greet, (g) => g.code === 220, { what: 'the connection window to pass' })
    assert.ok(Date.now() - started >= 900, 'admitted again only once the window passed')
  })
})

describe('tls.rate: new TLS sessions per address and window', () => {
  const env = relayWithSink({}, tight([{ check: 'tls.rate', limits: { tight: '1/1s' } }]))

  it('refuses the second new TLS session in a second with 421 4.7.0, and allows one after the window', async () => {
    const port = env.relay.port('submission')
    const starttls = async () => {
      const c = await session(port, '127.0.7.4')
      const r = await c.starttls().catch((err: Error) => ({ code: 0, lines: [], line: err.message }))
      c.destroy()
      return r
    }
    assert.equal((await starttls()).code, 250)
    const refused = await starttls()
    assert.equal(refused.line, `421 4.7.0 Too many new TLS sessions from your address (limit 1 per 1s); reuse sessions or try again in 1 s${URL_OF('tls-rate')}`)
    await eventually(starttls, (r) => r.code === 250, { what: 'the TLS window to pass' })
  })
})

describe('mail.rate: messages per address, subnet, user and sender domain', () => {
  const env = relayWithSink(
    {},
    tight([
      {
        check: 'mail.rate',
        limits: { address: { tight: '2/1s' }, subnet: { tight: '3/1s' }, user: { default: '2/1s' }, sender_domain: { tight: '2/1s' } },
      },
    ]),
  )

  it('per address: 451 4.7.1 for the third message in a second, then accepted again', async () => {
    const port = env.relay.port('submission')
    const c = await session(port, '127.0.7.5')
    const codes = []
    for (let i = 0; i < 3; i++) codes.push((await c.send(`a${i}@one.test`, ['x@ext.test'], message('m'))).mail)
    assert.deepEqual(codes.map((r) => r.code), [250, 250, 451])
    assert.equal(codes[2]?.line, `451 4.7.1 Message rate limit reached for your address 127.0.7.5 (limit 2 per 1s); try again in 1 s${URL_OF('rate-limited')}`)
    await eventually(() => c.cmd('MAIL FROM:<again@one.test>'), (r) => r.code === 250, { what: 'the message window to pass' })
    await c.quit()
  })

  it('per /24 subnet: three addresses of one subnet share its limit', async () => {
    const port = env.relay.port('submission')
    const replies = [
      await mailFrom(port, '127.0.6.1', 's1@a.test'),
      await mailFrom(port, '127.0.6.2', 's2@b.test'),
      await mailFrom(port, '127.0.6.3', 's3@c.test'),
      await mailFrom(port, '127.0.6.4', 's4@d.test'),
    ]
    assert.deepEqual(replies.map((r) => r.code), [250, 250, 250, 451])
    assert.match(replies[3]?.line ?? '', /^451 4\.7\.1 Message rate limit reached for your network 127\.0\.6\.0\/24 \(limit 3 per 1s\); try again in 1 s/)
    await eventually(() => mailFrom(port, '127.0.6.5', 's5@e.test'), (r) => r.code === 250, { what: 'the subnet window' })
  })

  it('per sender domain: two addresses sending as one domain share its limit', async () => {
    const port = env.relay.port('submission')
    const replies = [
      await mailFrom(port, '127.0.7.20', 'a@shared.test'),
      await mailFrom(port, '127.0.7.21', 'b@shared.test'),
      await mailFrom(port, '127.0.7.22', 'c@shared.test'),
    ]
    assert.deepEqual(replies.map((r) => r.code), [250, 250, 451])
    assert.match(replies[2]?.line ?? '', /^451 4\.7\.1 Message rate limit reached for sender domain shared\.test \(limit 2 per 1s\)/)
    await eventually(() => mailFrom(port, '127.0.7.23', 'd@shared.test'), (r) => r.code === 250, { what: 'the domain window' })
  })

  it('per authenticated user, whatever address the user comes from', async () => {
    const port = env.relay.port('submission')
    const asAlice = async (localAddress: string, from: string) => {
      const c = await session(port, localAddress)
      await c.starttls()
      await c.cmd(authPlain('alice', 'correct horse battery staple'))
      const r = await c.cmd(`MAIL FROM:<${from}>`)
      await c.quit()
      return r
    }
    const replies = [await asAlice('127.0.5.1', 'alice@u1.test'), await asAlice('127.0.5.2', 'alice@u2.test'), await asAlice('127.0.5.3', 'alice@u3.test')]
    assert.deepEqual(replies.map((r) => r.code), [250, 250, 451])
    assert.match(replies[2]?.line ?? '', /^451 4\.7\.1 Message rate limit reached for user alice \(limit 2 per 1s\)/)
    await eventually(() => asAlice('127.0.5.4', 'alice@u4.test'), (r) => r.code === 250, { what: 'the user window' })
  })
})

describe('mail.null_sender_rate: bounces per address', () => {
  const env = relayWithSink({}, tight([{ check: 'mail.null_sender_rate', limits: { address: { tight: '2/1s' } } }]))

  it('defers the third bounce in a second with 451 4.7.1, lets ordinary mail through meanwhile, and recovers', async () => {
    const port = env.relay.port('submission')
    const c = await session(port, '127.0.7.6')
    const bounces = []
    for (let i = 0; i < 3; i++) {
      bounces.push(await c.cmd('MAIL FROM:<>'))
      await c.cmd('RSET')
    }
    assert.deepEqual(bounces.map((r) => r.code), [250, 250, 451])
    assert.equal(bounces[2]?.line, `451 4.7.1 Bounce (null sender) rate limit reached for your address 127.0.7.6 (limit 2 per 1s); try again in 1 s${URL_OF('rate-limited')}`)
    assert.equal((await c.cmd('MAIL FROM:<someone@customer.test>')).code, 250)
    await c.cmd('RSET')
    await eventually(() => c.cmd('MAIL FROM:<>'), (r) => r.code === 250, { what: 'the bounce window' })
    await c.quit()
  })
})

describe('rcpt.rate, rcpt.recipient_limit and rcpt.fanout', () => {
  const env = relayWithSink(
    {},
    tight([
      { check: 'rcpt.recipient_limit', limits: { tight: 3 } },
      { check: 'rcpt.rate', limits: { address: { tight: '5/1s' } } },
      { check: 'rcpt.fanout', limits: { address: { tight: '3/1s' } }, actions: { default: { tag: 0 }, tight: 'tempfail' } },
    ]),
  )

  it('defers recipients beyond 3 per message with 452 4.5.3 and relays to the first three', async () => {
    const c = await session(env.relay.port('submission'), '127.0.7.7')
    const r = await c.send('a@customer.test', ['r1@d.test', 'r2@d.test', 'r3@d.test', 'r4@d.test'], message('four'))
    await c.quit()
    assert.deepEqual(r.rcpt.map((x) => x.code), [250, 250, 250, 452])
    assert.equal(r.rcpt[3]?.line, `452 4.5.3 Too many recipients for one message (limit 3); send the rest in another message${URL_OF('too-many-recipients')}`)
    assert.equal(r.end?.code, 250)
    assert.deepEqual(env.sink.messages.at(-1)?.to, ['r1@d.test', 'r2@d.test', 'r3@d.test'])
  })

  it('defers the sixth recipient in a second with 450 4.7.1, and accepts it after the window', async () => {
    const c = await session(env.relay.port('submission'), '127.0.7.8')
    await c.cmd('MAIL FROM:<a@customer.test>')
    const replies = []
    for (let i = 0; i < 3; i++) replies.push(await c.cmd(`RCPT TO:<r${i}@same.test>`))
    await c.cmd('RSET')
    await c.cmd('MAIL FROM:<a@customer.test>')
    for (let i = 3; i < 6; i++) replies.push(await c.cmd(`RCPT TO:<r${i}@same.test>`))
    assert.deepEqual(replies.map((r) => r.code), [250, 250, 250, 250, 250, 450])
    assert.equal(replies[5]?.line, `450 4.7.1 Recipient rate limit reached for your address 127.0.7.8 (limit 5 per 1s); try again in 1 s${URL_OF('rate-limited')}`)
    await eventually(() => c.cmd('RCPT TO:<late@same.test>'), (r) => r.code === 250, { what: 'the recipient window' })
    await c.quit()
  })

  it('counts distinct recipient domains: the fourth new domain in a second is deferred for the tight class', async () => {
    const c = await session(env.relay.port('submission'), '127.0.7.9')
    await c.cmd('MAIL FROM:<a@customer.test>')
    const replies = []
    for (const d of ['one', 'two', 'one', 'three']) replies.push(await c.cmd(`RCPT TO:<x@${d}.test>`))
    await c.cmd('RSET')
    await c.cmd('MAIL FROM:<a@customer.test>')
    replies.push(await c.cmd('RCPT TO:<x@four.test>'))
    assert.deepEqual(replies.map((r) => r.code), [250, 250, 250, 250, 450])
    assert.match(replies[4]?.line ?? '', /^450 4\.7\.1 Too many different recipient domains from your address 127\.0\.7\.9 \(limit 3 per 1s\); try again in 1 s/)
    await eventually(() => c.cmd('RCPT TO:<x@five.test>'), (r) => r.code === 250, { what: 'the fan-out window' })
    await c.quit()
  })
})

describe('auth.failures: brute force over STARTTLS', () => {
  const env = relayWithSink({}, tight([{ check: 'auth.failures', limits: { address: { default: '3/2s' }, user: { default: '4/2s' } } }]))

  async function attempt(localAddress: string, user: string, pass: string): Promise<Reply> {
    const c = await session(env.relay.port('submission'), localAddress)
    await c.starttls()
    const r = await c.cmd(authPlain(user, pass))
    await c.quit()
    return r
  }

  it('locks an address out after three failures, refuses even the right password meanwhile, and lets it in after the window', async () => {
    const replies = []
    for (let i = 0; i < 4; i++) replies.push(await attempt('127.0.4.1', 'alice', `guess${i}`))
    assert.deepEqual(replies.map((r) => r.code), [535, 535, 535, 454])
    assert.match(
      replies[3]?.line ?? '',
      /^454 4\.7\.0 Too many failed authentication attempts for your address 127\.0\.4\.1; check the password and try again in [12] s; see https:\/\/postmaster\.example\.net\/why\/auth-locked$/,
    )
    const right = await attempt('127.0.4.1', 'alice', 'correct horse battery staple')
    assert.equal(right.code, 454, 'the right password waits for the lockout too')
    await eventually(() => attempt('127.0.4.1', 'alice', 'correct horse battery staple'), (r) => r.code === 235, { what: 'the lockout to end' })
  })

  it('locks a user name out when the guesses come from many addresses', async () => {
    const replies = []
    for (let i = 0; i < 5; i++) replies.push(await attempt(`127.0.3.${i + 1}`, 'mallory', 'guess'))
    assert.deepEqual(replies.map((r) => r.code), [535, 535, 535, 535, 454])
    assert.match(replies[4]?.line ?? '', /^454 4\.7\.0 Too many failed authentication attempts for user mallory;/)
  })

  it('lets a locked-out user in with the right password once the window has passed, from any address', async () => {
    const replies = []
    for (let i = 0; i < 5; i++) replies.push(await attempt(`127.0.1.${i + 1}`, 'alice', `guess${i}`))
    assert.deepEqual(replies.map((r) => r.code), [535, 535, 535, 535, 454])
    assert.match(replies[4]?.line ?? '', /^454 4\.7\.0 Too many failed authentication attempts for user alice;/)
    // A fresh address does not help during the lockout: the user name is what is locked.
    assert.equal((await attempt('127.0.1.6', 'alice', 'correct horse battery staple')).code, 454)
    const started = Date.now()
    const { value } = await eventually(() => attempt('127.0.1.7', 'alice', 'correct horse battery staple'), (r) => r.code !== 454, { what: 'the user lockout to end' })
    assert.equal(value.code, 235)
    assert.ok(Date.now() - started < 5000, 'the lockout lasts one window, not longer')
  })
})

describe('warn mode', () => {
  const env = relayWithSink({}, tight([{ check: 'mail.rate', mode: 'warn', limits: { address: { tight: '1/1m' } } }]))

  it('refuses nothing, but records and counts what it would have refused', async () => {
    const c = await session(env.relay.port('submission'), '127.0.7.30')
    const replies = []
    for (let i = 0; i < 3; i++) replies.push((await c.send('w@customer.test', ['x@ext.test'], message(`warn ${i}`))).end?.code)
    await c.quit()
    assert.deepEqual(replies, [250, 250, 250])
    const checks = env.relay.logs
      .transactions()
      .filter((t) => (t.tx as { mailFrom: string }).mailFrom === 'w@customer.test')
      .flatMap((t) => (t.tx.checks ?? []) as { check: string; outcome: string; warn?: boolean; reply?: string }[])
      .filter((r) => r.check === 'mail.rate')
    // The first message was within the limit (no opinion, nothing recorded); the others were over it.
    assert.deepEqual(checks.map((r) => [r.outcome, r.warn]), [['tempfail', true], ['tempfail', true]])
    assert.match(checks[0]?.reply ?? '', /^451 4\.7\.1 Message rate limit reached for your address 127\.0\.7\.30 \(limit 1 per 1m\)/)
    const metrics = await (await fetch(env.relay.adminUrl('/metrics'))).text()
    assert.match(metrics, /smarthost_limit_hits_total\{relay_instance="outbound",check="mail\.rate",dimension="address",class="tight",mode="warn"\} [2-9]/)
  })
})
