import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { clientFaults } from '../../src/metrics/relay-metrics.js'
import { defaultAuthFailures } from '../helpers/default-auth.js'
import { eventually } from '../helpers/eventually.js'
import { metricValue } from '../helpers/metrics.js'
import { relayWithSink, USER, waitFor } from '../helpers/relay.js'
import { authPlain, securedDialog } from '../helpers/smtp-client.js'
import type { Reply, SmtpDialog } from '../helpers/smtp-client.js'

// Password guessing over real STARTTLS sessions: the embedded default policy's auth.failures
// and smtp.* keys (read from policies/relay.yaml, not copied), then a 1 s window to watch it end.

const RIGHT = USER.password

const defaults = await defaultAuthFailures()

/** AUTH attempts on one connection until it closes or `max` replies; returns the replies. */
async function guess(c: SmtpDialog, user: string, passwords: string[]): Promise<Reply[]> {
  const replies: Reply[] = []
  for (const pass of passwords) {
    if (c.closed) break
    try {
      replies.push(await c.cmd(authPlain(user, pass)))
    } catch {
      break
    }
  }
  return replies
}

describe('password guessing with the default policy', () => {
  const env = relayWithSink({}, (p) => {
    p.instances.outbound.relay.networks = ['127.0.0.1/32']
    p.instances.outbound.smtp = defaults.smtp
    p.instances.outbound.checks = [defaults.authFailures]
  })

  it('closes a connection with 421 4.7.0 at the third wrong password: 300 guesses on one connection are not possible', async () => {
    const before = await metricValue(clientFaults, { fault: 'auth_session_limit' })
    const c = await securedDialog(env.relay.port('submission'), '127.0.5.1')
    const replies = await guess(c, 'alice', Array.from({ length: 300 }, (_, i) => `guess${i}`))
    assert.deepEqual(replies.map((r) => r.code), [535, 535, 421])
    assert.equal(replies[0]?.line, '535 5.7.8 Authentication credentials invalid; see https://postmaster.example.net/why/auth-failed')
    assert.equal(
      replies[2]?.line,
      '421 4.7.0 Too many failed authentication attempts in this session (limit 3); check the user name and password, then reconnect; see https://postmaster.example.net/why/auth-session-limit',
    )
    await waitFor(() => c.closed, 5000, 'the relay to close the connection')
    assert.equal(await metricValue(clientFaults, { fault: 'auth_session_limit' }), before + 1)
  })

  it('locks the address out after five failures: the sixth guess and then the right password get 454 4.7.0', async () => {
    const codes: number[] = []
    for (const batch of [['a', 'b', 'c'], ['d', 'e', 'f']]) {
      const c = await securedDialog(env.relay.port('submission'), '127.0.5.2')
      codes.push(...(await guess(c, 'alice', batch)).map((r) => r.code))
      c.destroy()
    }
    assert.deepEqual(codes, [535, 535, 421, 535, 535, 454])
    const c = await securedDialog(env.relay.port('submission'), '127.0.5.2')
    const right = await c.cmd(authPlain(USER.name, RIGHT))
    await c.quit()
    assert.match(right.line, /^454 4\.7\.0 Too many failed authentication attempts for your address 127\.0\.5\.2; check the password and try again in \d+ s/)
  })

  it('lets the right password in at once on a fresh address and user', async () => {
    const c = await securedDialog(env.relay.port('submission'), '127.0.5.3')
    const r = await c.cmd(authPlain(USER.name, RIGHT))
    await c.quit()
    assert.equal(r.code, 235)
  })
})

describe('password guessing: the lockout ends with its window', () => {
  const env = relayWithSink({}, (p) => {
    p.instances.outbound.relay.networks = ['127.0.0.1/32']
    p.instances.outbound.smtp = { auth_failure_limit: 10 } // one connection holds the whole lockout
    p.instances.outbound.checks = [{ check: 'auth.failures', limits: { address: { default: '2/3s' }, user: { default: '100/3s' } } }]
  })

  it('refuses the right password until the window has passed, then accepts it', async () => {
    const c = await securedDialog(env.relay.port('submission'), '127.0.5.9')
    assert.deepEqual((await guess(c, 'alice', ['x', 'y', 'z'])).map((r) => r.code), [535, 535, 454])
    const locked = await c.cmd(authPlain(USER.name, RIGHT))
    assert.equal(locked.code, 454, locked.line)
    c.destroy()
    const attempt = async () => {
      const e = await securedDialog(env.relay.port('submission'), '127.0.5.9')
      const r = await e.cmd(authPlain(USER.name, RIGHT))
      await e.quit()
      return r
    }
    const { value } = await eventually(attempt, (r) => r.code !== 454, { ms: 15_000, what: 'the lockout to end' })
    assert.equal(value.code, 235)
  })
})
