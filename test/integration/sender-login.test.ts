import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { hashPassword } from '../../src/auth/password.js'
import { authPlain, message, SmtpDialog } from '../helpers/smtp-client.js'
import type { Reply } from '../helpers/smtp-client.js'
import { relayWithSink, USER } from '../helpers/relay.js'
import type { PolicyTree, TestRelay } from '../helpers/relay.js'

const PASSWORD = 'sender login test password'
const WHY = 'https://postmaster.example.net/why/sender-login-mismatch'

/** alice (the test user) is mapped in the policy; the others in the credentials file, or nowhere. */
async function usersFile(): Promise<string> {
  const hash = await hashPassword(PASSWORD)
  return [
    `${USER.name}:${await hashPassword(USER.password)}`,
    `bob@shop.test:${hash}:bob@shop.test, .shop.test`,
    `carol@home.test:${hash}`,
    `dave:${hash}`,
    `mailer@lists.test:${hash}`,
    '',
  ].join('\n')
}

function withCheck(mode: 'enforce' | 'warn') {
  return (p: PolicyTree) => {
    p.instances.outbound.checks = [
      {
        check: 'mail.sender_login',
        mode,
        senders: { [USER.name]: ['alice@customer.test', '@office.test'] },
        mismatch: { default: 'reject', 'list-server': { tag: 1 } },
      },
    ]
    p.instances.outbound.classes = { overrides: { users: { 'mailer@lists.test': 'list-server' } } }
  }
}

/** Logs in as `user` over STARTTLS (from outside the relay networks) and sends one message as `from`. */
async function sendAs(relay: TestRelay, user: string, from: string): Promise<{ mail: Reply; end?: Reply }> {
  const c = await SmtpDialog.open({ port: relay.port('submission'), localAddress: '127.0.9.66' })
  await c.greeting
  await c.cmd('EHLO laptop.test')
  await c.starttls('laptop.test')
  const auth = await c.cmd(authPlain(user, user === USER.name ? USER.password : PASSWORD))
  assert.equal(auth.code, 235, auth.line)
  const r = await c.send(from, ['friend@remote.test'], message(`from ${from}`))
  await c.quit()
  return r
}

describe('sender-login match (mail.sender_login)', async () => {
  const files = { 'users.passwd': await usersFile() }
  const env = relayWithSink({}, withCheck('enforce'), { files })

  it('relays a sender address mapped to the login in the policy', async () => {
    const r = await sendAs(env.relay, USER.name, 'alice@customer.test')
    assert.equal(r.end?.code, 250, r.end?.line)
  })

  it('relays any address of a domain mapped to the login', async () => {
    const r = await sendAs(env.relay, USER.name, 'Reception@Office.test')
    assert.equal(r.end?.code, 250, r.end?.line)
  })

  it('refuses another sender with 553 5.7.1, naming what the login may use', async () => {
    const before = env.sink.messages.length
    const r = await sendAs(env.relay, USER.name, 'ceo@bank.test')
    assert.equal(
      r.mail.line,
      `553 5.7.1 <ceo@bank.test> is not among the addresses alice may send as; use <alice@customer.test> or @office.test, or ask the postmaster to add it; see ${WHY}`,
    )
    assert.equal(env.sink.messages.length, before)
    const tx = env.relay.logs.transactions().at(-1)
    assert.deepEqual((tx?.tx as { flags?: string[] }).flags, ['SENDER_LOGIN_MISMATCH'])
  })

  it('takes the senders of a login from its credentials file line: an address and subdomains', async () => {
    assert.equal((await sendAs(env.relay, 'bob@shop.test', 'bob@shop.test')).end?.code, 250)
    assert.equal((await sendAs(env.relay, 'bob@shop.test', 'orders@eu.shop.test')).end?.code, 250)
    const other = await sendAs(env.relay, 'bob@shop.test', 'sales@shop.test')
    assert.equal(
      other.mail.line,
      `553 5.7.1 <sales@shop.test> is not among the addresses bob@shop.test may send as; use <bob@shop.test> or .shop.test, or ask the postmaster to add it; see ${WHY}`,
    )
  })

  it('lets a login mapped nowhere send as its own user name when that is an address, and as nothing else', async () => {
    assert.equal((await sendAs(env.relay, 'carol@home.test', 'carol@home.test')).end?.code, 250)
    assert.equal((await sendAs(env.relay, 'carol@home.test', 'mum@home.test')).mail.code, 553)
    const dave = await sendAs(env.relay, 'dave', 'dave@home.test')
    assert.equal(
      dave.mail.line,
      `553 5.7.1 <dave@home.test> is not among the addresses dave may send as; this login may send as no address, or ask the postmaster to add it; see ${WHY}`,
    )
  })

  it('only tags a mismatch for a class whose action is a tag, and relays it', async () => {
    const r = await sendAs(env.relay, 'mailer@lists.test', 'news@other.test')
    assert.equal(r.end?.code, 250, r.end?.line)
    const tx = env.relay.logs.transactions().find((t) => (t.tx as { mailFrom?: string }).mailFrom === 'news@other.test')
    assert.equal((tx?.session as { clientClass?: string }).clientClass, 'list-server')
    assert.deepEqual((tx?.tx as { flags?: string[] }).flags, ['SENDER_LOGIN_MISMATCH'])
    assert.equal((tx?.tx as { score?: number }).score, 1)
  })

  it('lets a login send bounces with the null sender', async () => {
    const r = await sendAs(env.relay, 'dave', '')
    assert.equal(r.mail.code, 250, r.mail.line)
  })

  it('leaves clients that did not log in to the other checks', async () => {
    const c = await SmtpDialog.open({ port: env.relay.port('submission') })
    await c.greeting
    await c.cmd('EHLO office-server.test')
    assert.equal((await c.cmd('MAIL FROM:<ceo@bank.test>')).code, 250)
    await c.quit()
  })
})

describe('sender-login match in warn mode', async () => {
  const files = { 'users.passwd': await usersFile() }
  const env = relayWithSink({}, withCheck('warn'), { files })

  it('relays a sender the login may not use, and logs the check with its flag', async () => {
    const r = await sendAs(env.relay, USER.name, 'ceo@bank.test')
    assert.equal(r.end?.code, 250, r.end?.line)
    assert.equal(env.sink.messages.at(-1)?.from, 'ceo@bank.test')
    const tx = env.relay.logs.transactions().find((t) => (t.tx as { mailFrom?: string }).mailFrom === 'ceo@bank.test')
    const checks = (tx?.tx as { checks?: { check: string; outcome: string; warn?: boolean; flags?: string[] }[] }).checks ?? []
    const result = checks.find((c) => c.check === 'mail.sender_login')
    assert.equal(result?.outcome, 'reject')
    assert.equal(result?.warn, true)
    assert.deepEqual(result?.flags, ['SENDER_LOGIN_MISMATCH'])
  })
})

describe('sender-login match with unmapped: own_domain', async () => {
  const hash = await hashPassword(PASSWORD)
  const files = { 'users.passwd': `${USER.name}:${await hashPassword(USER.password)}\ninfo@xn--mller-kva.test:${hash}\n` }
  const env = relayWithSink(
    {},
    (p: PolicyTree) => {
      p.instances.outbound.checks = [{ check: 'mail.sender_login', unmapped: 'own_domain' }]
    },
    { files },
  )

  it('lets a login mapped nowhere send as any address of its own domain, an internationalized one too', async () => {
    assert.equal((await sendAs(env.relay, 'info@xn--mller-kva.test', 'sales@xn--mller-kva.test')).end?.code, 250)
    assert.equal((await sendAs(env.relay, 'info@xn--mller-kva.test', 'info@other.test')).mail.code, 553)
  })
})
