import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Incident } from '../../src/alerts/incident.js'
import { defaultAuthFailures } from '../helpers/default-auth.js'
import { eventually } from '../helpers/eventually.js'
import { startRedisServer, testKeyPrefix } from '../helpers/redis.js'
import type { RedisServer } from '../helpers/redis.js'
import type { PolicyTree } from '../helpers/relay.js'
import { relayWithSink, USER, waitFor } from '../helpers/relay.js'
import { authPlain, message, securedDialog, SmtpDialog } from '../helpers/smtp-client.js'
import type { Reply } from '../helpers/smtp-client.js'
import { startReceiver } from '../helpers/webhook-receiver.js'
import type { Receiver } from '../helpers/webhook-receiver.js'

// A cracked account, not a locked-out owner: password guessing from several addresses against
// the default policy's auth.failures (read from policies/relay.yaml), the owner at its usual
// address, a new address with the right password, and one that logs in after a burst and
// spams; real STARTTLS sessions from different 127.x source addresses, the relay's statistics
// and alerting, a real webhook receiver; on the memory backend and on a real redis-server.

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
const OWNER = '127.0.7.10'
/** Same /24 as the owner's address: a known network. */
const OWNER_LAN = '127.0.7.20'
const GUESSERS = ['127.0.8.1', '127.0.8.2', '127.0.8.3', '127.0.8.4', '127.0.8.5', '127.0.8.6', '127.0.8.7', '127.0.8.8']
const STRANGER = '127.0.9.9'
const INTRUDER = '127.0.6.99'
/** Messages from the intruder that make the volume rule fire. */
const VOLUME = 6

const defaults = await defaultAuthFailures()

/** Logs in from `address` with `password`; the AUTH reply and the open session. */
async function login(port: number, address: string, password = USER.password): Promise<{ reply: Reply; c: SmtpDialog }> {
  const c = await securedDialog(port, address, 'pc.customer.test')
  return { reply: await c.cmd(authPlain(USER.name, password)), c }
}

/** Logs in and sends `n` messages; the AUTH reply and the end-of-DATA codes. */
async function loginAndSend(port: number, address: string, n: number, subject = 'Minutes of the meeting'): Promise<{ auth: Reply; sent: (number | undefined)[] }> {
  const { reply, c } = await login(port, address)
  const sent: (number | undefined)[] = []
  if (reply.code === 235) {
    for (let i = 0; i < n; i++) sent.push((await c.send('alice@customer.test', [`someone${i}@partner${i}.test`], message(`${subject} ${i}`))).end?.code)
  }
  await c.quit()
  return { auth: reply, sent }
}

/** Two wrong passwords per connection (the third would close it) from each address in turn; the AUTH reply codes. */
async function guess(port: number, addresses: readonly string[]): Promise<number[]> {
  const codes: number[] = []
  for (const [k, a] of addresses.entries()) {
    const c = await securedDialog(port, a, 'pc.customer.test')
    for (let n = 0; n < 2; n++) codes.push((await c.cmd(authPlain(USER.name, `guess-${k}-${n}`))).code)
    await c.quit()
  }
  return codes
}

for (const backend of ['memory', 'redis'] as const) {
  describe(`a cracked account, not a locked-out owner (${backend} backend)`, () => {
    let redis: RedisServer | undefined
    let receiver: Receiver
    const dir = mkdtempSync(join(tmpdir(), 'shg-auth-cracked-'))
    writeFileSync(join(dir, 'hook.secret'), `${SECRET}\n`)
    before(async () => {
      receiver = await startReceiver(SECRET)
      if (backend === 'redis') redis = await startRedisServer()
    })
    after(async () => {
      await receiver.close()
      await redis?.close()
    })

    const patch = (p: PolicyTree) => {
      const out = p.instances.outbound
      // Only 127.0.0.1 relays without AUTH: every other loopback address is a customer who must log in.
      out.relay.networks = ['127.0.0.1/32']
      out.smtp = defaults.smtp
      out.checks = [defaults.authFailures]
      if (redis) p.state = { backend: 'redis', redis: { url: redis.url, key_prefix: testKeyPrefix(`auth-cracked-${backend}`) } }
      p.alerts = {
        dir: join(dir, `alerts-${backend}`),
        evaluate_every: '300ms',
        lease: '1s',
        retry: { min: '200ms', max: '1s' },
        webhooks: [{ name: 'desk', url: receiver.url, secret_file: join(dir, 'hook.secret') }],
        rules: {
          default: [
            // The 10 + 6 + 2 refused attempts of the first scenario, of which only 10 get a 535.
            { name: 'auth_burst', kind: 'auth_burst', window: '5m', above: 18, severity: 'warning' },
            { name: 'auth_cracked', kind: 'auth_cracked', window: '10m', failures: 5, severity: 'critical' },
            // Fires with the cracked-account rule for the intruder: one incident, the one naming the account.
            { name: 'message_burst', kind: 'volume', counter: 'messages', window: '5m', above: VOLUME, severity: 'critical', action: { penalty_box: '1h' } },
            {
              name: 'auth_cracked_sending',
              kind: 'auth_cracked_sending',
              failures: 5,
              above: VOLUME,
              volume_window: '5m',
              severity: 'critical',
              action: { penalty_box: '1h' },
            },
          ],
        },
      }
    }

    describe('guessing against an account its owner keeps using', () => {
      const env = relayWithSink({}, patch)

      it('stops guessing from several addresses after 10 failed AUTH (at most 20), refuses the right password from a new address with 454 4.7.0, and keeps serving the owner', async () => {
        const port = env.relay.port('submission')
        const owner = await loginAndSend(port, OWNER, 1)
        assert.deepEqual([owner.auth.code, owner.sent], [235, [250]])

        // 8 addresses, 2 guesses each: the user limit (10 per 10m) stops the run, no address reaches its own limit (5).
        const codes = await guess(port, GUESSERS)
        assert.deepEqual(codes, [...Array<number>(10).fill(535), ...Array<number>(6).fill(454)])

        // The owner, during the attack: from its address, and from another address of its /24.
        for (const address of [OWNER, OWNER_LAN]) {
          const during = await loginAndSend(port, address, 2)
          assert.deepEqual([during.auth.code, during.sent], [235, [250, 250]], `owner at ${address}`)
        }

        // The right password from a guesser's address, and from an address never seen: refused, saying why.
        for (const address of [GUESSERS[0]!, STRANGER]) {
          const { reply, c } = await login(port, address)
          await c.quit()
          assert.match(
            reply.line,
            new RegExp(`^454 4\\.7\\.0 Too many failed authentication attempts for user alice; until they stop \\(about \\d+ s\\) it may log in only from addresses it used before, not from ${address.replace(/\./g, '\\.')}; see https://postmaster\\.example\\.net/why/auth-locked$`),
          )
        }
        const delivered = env.sink.messages.filter((m) => m.text.includes('Minutes of the meeting'))
        assert.equal(delivered.length, 5)

        // The desk hears of the attack: the attempts refused during the lockout count as failures too
        // (18, the last two after the owner's logins). The owner's logins, from its address and its
        // network, are no cracked-account incident, in that round or before.
        const { value } = await eventually(
          () => Promise.resolve(receiver.received.map((r) => r.body.data as unknown as Incident).filter((i) => i.client_key === 'user:alice')),
          (found) => found.length >= 1,
          { ms: 30_000, what: 'the AUTH incident at the webhook' },
        )
        const i = value[0]!
        assert.deepEqual([i.rule, i.observed, i.summary], ['auth_burst', 18, '18 AUTH failures for alice from 9 addresses in 300s'])
        assert.equal(i.evidence.details?.also_firing, undefined)
        assert.equal(i.action.penalty_box_until, null)
      })
    })

    describe('a new address that logs in after a burst of failures and sends in volume', () => {
      const env = relayWithSink({}, patch)

      it('holds the new address in the penalty box with the account named, raises one incident at the webhook, and the owner keeps sending', async () => {
        const port = env.relay.port('submission')
        assert.equal((await loginAndSend(port, OWNER, 1)).auth.code, 235)
        // A burst under the user limit: the account is not locked, so the guessed password gets in.
        assert.deepEqual(await guess(port, GUESSERS.slice(0, 3)), Array<number>(6).fill(535))
        // The intruder logs in with the guessed password and spams over one session it keeps open.
        const { reply, c: intruder } = await login(port, INTRUDER)
        assert.equal(reply.code, 235)
        for (let i = 0; i < VOLUME; i++) {
          assert.equal((await intruder.send('alice@customer.test', [`x${i}@victim${i}.test`], message(`Urgent invoice ${i}`))).end?.code, 250)
        }

        const { value } = await eventually(
          () => Promise.resolve(receiver.received.map((r) => r.body.data as unknown as Incident).filter((i) => i.client_key === `address:${INTRUDER}` && i.rule === 'auth_cracked_sending')),
          (found) => found.length >= 1,
          { ms: 30_000, what: 'the cracked-account incident at the webhook' },
        )
        const i = value[0]!
        assert.deepEqual([i.kind, i.severity, i.status, i.observed, i.threshold], ['auth_cracked_sending', 'critical', 'firing', VOLUME, VOLUME])
        assert.equal(i.summary, `${INTRUDER} logged in as alice after 6 AUTH failures and sent ${VOLUME} messages in 5m`)
        assert.ok(i.action.penalty_box_until, 'the incident records the penalty box')
        const details = i.evidence.details as { user: string; success_from: string; failures: number; failure_addresses: { address: string; count: number }[]; known_addresses: string[] }
        assert.deepEqual([details.user, details.success_from, details.failures], ['alice', INTRUDER, 6])
        assert.deepEqual(details.failure_addresses.map((f) => [f.address, f.count]).sort(), GUESSERS.slice(0, 3).map((a) => [a, 2]))
        assert.deepEqual(details.known_addresses, [OWNER])
        assert.equal(i.evidence.counts.accepted, VOLUME)
        assert.deepEqual(i.evidence.details?.also_firing, [`message_burst: ${VOLUME} messages in 5m (threshold ${VOLUME})`])
        assert.ok(i.evidence.samples.some((s) => s.subject?.startsWith('Urgent invoice')))

        // Its open session is cut at the next MAIL, and its next connection is held, told which account it is about.
        const cut = await intruder.cmd('MAIL FROM:<alice@customer.test>')
        assert.match(cut.line, new RegExp(`^421 4\\.7\\.1 Address ${INTRUDER.replace(/\./g, '\\.')} is blocked until \\S+: ${INTRUDER.replace(/\./g, '\\.')} logged in as alice after 6 AUTH failures and sent ${VOLUME} messages in 5m; see `))
        await waitFor(() => intruder.closed, 5000, 'the relay to close the intruder session')
        const held = await SmtpDialog.open({ port, localAddress: INTRUDER })
        const greeting = await held.greeting
        held.destroy()
        assert.match(greeting.line, new RegExp(`^421 4\\.7\\.1 .*${INTRUDER.replace(/\./g, '\\.')}.* logged in as alice after 6 AUTH failures`))

        // The owner is not held.
        const owner = await loginAndSend(port, OWNER, 1)
        assert.deepEqual([owner.auth.code, owner.sent], [235, [250]])
        assert.equal(new Set(receiver.received.filter((r) => (r.body.data as unknown as Incident).rule === 'auth_cracked_sending').map((r) => (r.body.data as unknown as Incident).id)).size, 1)
      })
    })
  })
}
