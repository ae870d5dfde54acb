import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { metricsText, sample } from '../helpers/metrics.js'
import { runCli } from '../helpers/process.js'
import { relayWithSink, startRelay, testPolicy } from '../helpers/relay.js'
import type { TestRelay } from '../helpers/relay.js'
import { startSink } from '../helpers/sink.js'
import type { Sink } from '../helpers/sink.js'
import { authPlain, message, SmtpDialog } from '../helpers/smtp-client.js'

const TOKEN = 'test-token-5d1f0c'
const ISO = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ'

async function greeting(port: number, localAddress: string) {
  const c = await SmtpDialog.open({ port, localAddress })
  const g = await c.greeting
  await c.quit()
  return g
}

describe('penalty box: smarthost-guard penalty and the admin API', () => {
  let sink: Sink
  let relay: TestRelay
  before(async () => {
    sink = await startSink()
    relay = await startRelay(
      testPolicy([sink.port], (p) => {
        p.admin.token_file = 'admin.token'
        p.instances.outbound.relay.networks = ['127.0.0.0/8']
      }),
      { instances: ['outbound'], files: { 'admin.token': `${TOKEN}\n` } },
    )
  })
  after(async () => {
    await relay.close()
    await sink.close()
  })
  const api = (path: string, init: RequestInit = {}, token: string | null = TOKEN) =>
    fetch(relay.adminUrl(path), { ...init, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json' } })

  it('puts an address in the box with the CLI; the client gets 421 4.7.1 with the reason, the time and the URL', async () => {
    const port = relay.port('submission')
    assert.equal((await greeting(port, '127.0.4.4')).code, 220)
    const add = await runCli(['penalty', 'add', '--config', relay.file, '--url', relay.adminUrl(''), '--address', '127.0.4.4', '--reason', 'spam run from your PC', '--duration', '2h', '--by', 'noc-anna'])
    assert.equal(add.code, 0, add.stderr)
    assert.match(add.stdout, new RegExp(`^added address 127\\.0\\.4\\.4 until ${ISO} \\(by noc-anna, ${ISO}\\): spam run from your PC\\n$`))
    const refused = await greeting(port, '127.0.4.4')
    assert.match(
      refused.line,
      new RegExp(`^421 4\\.7\\.1 Address 127\\.0\\.4\\.4 is blocked until ${ISO}: spam run from your PC; see https://postmaster\\.example\\.net/why/penalty-box$`),
    )
    // Its neighbour is not in the box.
    assert.equal((await greeting(port, '127.0.4.5')).code, 220)
  })

  it('lists entries with who, why, when and until, and removes them again', async () => {
    const list = await runCli(['penalty', 'list', '--config', relay.file, '--url', relay.adminUrl(''), '--json'])
    assert.equal(list.code, 0, list.stderr)
    const entries = JSON.parse(list.stdout) as { scope: string; value: string; who: string; why: string; when: string; until: string }[]
    const entry = entries.find((e) => e.value === '127.0.4.4')
    assert.ok(entry)
    assert.equal(entry.scope, 'address')
    assert.equal(entry.who, 'noc-anna')
    assert.equal(entry.why, 'spam run from your PC')
    // The same ISO 8601 times as the table, not epoch milliseconds.
    assert.match(entry.when, new RegExp(`^${ISO}$`))
    assert.match(entry.until, new RegExp(`^${ISO}$`))
    assert.ok(Math.abs(Date.parse(entry.until) - Date.parse(entry.when) - 2 * 3600_000) <= 1000)
    const table = await runCli(['penalty', 'list', '--config', relay.file, '--url', relay.adminUrl('')])
    assert.match(table.stdout, /^address 127\.0\.4\.4 until .* \(by noc-anna, .*\): spam run from your PC$/m)
    const removed = await runCli(['penalty', 'remove', '--config', relay.file, '--url', relay.adminUrl(''), '--address', '127.0.4.4'])
    assert.equal(removed.code, 0, removed.stderr)
    assert.equal((await greeting(relay.port('submission'), '127.0.4.4')).code, 220)
    const again = await runCli(['penalty', 'remove', '--config', relay.file, '--url', relay.adminUrl(''), '--address', '127.0.4.4'])
    assert.equal(again.code, 1)
    assert.match(again.stderr, /not in the penalty box/)
  })

  it('boxes a whole /24 subnet and an authenticated user through the API', async () => {
    const subnet = await api('/api/penalty', { method: 'POST', body: JSON.stringify({ scope: 'subnet', value: '127.0.2.0/24', why: 'botnet range', who: 'abuse-desk', duration: '10m' }) })
    assert.equal(subnet.status, 201)
    assert.match((await greeting(relay.port('submission'), '127.0.2.77')).line, /^421 4\.7\.1 Network 127\.0\.2\.0\/24 is blocked until .*: botnet range; see /)
    const user = await api('/api/penalty', { method: 'POST', body: JSON.stringify({ scope: 'user', value: 'alice', why: 'password leaked, reset it', who: 'abuse-desk' }) })
    assert.equal(user.status, 201)
    const c = await SmtpDialog.open({ port: relay.port('submission'), localAddress: '127.0.4.9' })
    await c.greeting
    await c.cmd('EHLO roadwarrior.test')
    await c.starttls()
    const auth = await c.cmd(authPlain('alice', 'correct horse battery staple'))
    await c.quit()
    assert.match(auth.line, /^454 4\.7\.1 User alice is blocked until .*: password leaked, reset it; see https:\/\/postmaster\.example\.net\/why\/penalty-box$/)
    const list = (await (await api('/api/penalty')).json()) as { entries: { value: string }[] }
    assert.deepEqual(list.entries.map((e) => e.value).sort(), ['127.0.2.0/24', 'alice'])
    const metrics = await metricsText(relay.adminUrl('/metrics'))
    assert.equal(sample(metrics, 'smarthost_penalty_box_entries', { relay_instance: 'outbound' }), 2)
    assert.ok(sample(metrics, 'smarthost_penalty_box_additions_total', { relay_instance: 'outbound', by: 'operator' }) >= 3)
    for (const [scope, value] of [['subnet', '127.0.2.0/24'], ['user', 'alice']]) {
      const r = await api(`/api/penalty?scope=${scope}&value=${encodeURIComponent(value!)}`, { method: 'DELETE' })
      assert.equal(r.status, 200)
    }
  })

  it('refuses every API call without the right bearer token, and bad requests with 400', async () => {
    assert.equal((await api('/api/penalty', {}, null)).status, 401)
    assert.equal((await api('/api/penalty', {}, 'wrong')).status, 401)
    const none = await api('/api/penalty', { method: 'POST', body: JSON.stringify({ scope: 'address', value: '127.0.4.6', why: 'x', who: 'y' }) }, null)
    assert.equal(none.status, 401)
    assert.equal((await greeting(relay.port('submission'), '127.0.4.6')).code, 220)
    const bad = await api('/api/penalty', { method: 'POST', body: JSON.stringify({ scope: 'address', value: 'not-an-ip', why: 'x', who: 'y' }) })
    assert.equal(bad.status, 400)
    assert.match(((await bad.json()) as { error: string }).error, /not an IP address/)
    const cli = await runCli(['penalty', 'list', '--config', relay.file, '--token-file', '/dev/null'])
    assert.equal(cli.code, 2)
    assert.match(cli.stderr, /no token/)
  })

  it('answers a malformed add with 400 naming every field that is wrong, and boxes nobody', async () => {
    const r = await api('/api/penalty', { method: 'POST', body: JSON.stringify({ scope: 'host', value: '127.0.4.7', why: 'x', duration: 'soon', by: 'y' }) })
    assert.equal(r.status, 400)
    const { error } = (await r.json()) as { error: string }
    assert.match(error, /scope: must be one of address, subnet, user/)
    assert.match(error, /who: missing/)
    assert.match(error, /duration: expected a duration such as "30s" or "5m", got "soon"/)
    assert.match(error, /"by"/)
    const zero = await api('/api/penalty', { method: 'POST', body: JSON.stringify({ scope: 'address', value: '127.0.4.7', why: 'x', who: 'y', duration: 0 }) })
    assert.equal(zero.status, 400)
    assert.equal(((await zero.json()) as { error: string }).error, 'duration: must be positive')
    const remove = await api('/api/penalty?scope=host&value=127.0.4.7', { method: 'DELETE' })
    assert.equal(remove.status, 400)
    assert.equal(((await remove.json()) as { error: string }).error, 'scope: must be one of address, subnet, user')
    assert.equal((await greeting(relay.port('submission'), '127.0.4.7')).code, 220)
  })

  it('refuses a duration beyond a year and an over-long reason with 400, and keeps control characters out of replies and penalty list', async () => {
    const add = (body: Record<string, unknown>) => api('/api/penalty', { method: 'POST', body: JSON.stringify({ scope: 'address', value: '127.0.4.8', ...body }) })
    const forever = await add({ why: 'x', who: 'y', duration: '100000000d' })
    assert.equal(forever.status, 400)
    assert.equal(((await forever.json()) as { error: string }).error, 'duration: must be at most 365d')
    const long = await add({ why: 'x'.repeat(201), who: 'y' })
    assert.equal(long.status, 400)
    assert.match(((await long.json()) as { error: string }).error, /^the reason is 201 characters long; at most 200 fit in the reply$/)
    const user = await api('/api/penalty', { method: 'POST', body: JSON.stringify({ scope: 'user', value: 'bob\x1b[2J', why: 'x', who: 'y' }) })
    assert.equal(user.status, 400)
    assert.equal((await greeting(relay.port('submission'), '127.0.4.8')).code, 220)

    const ok = await add({ why: 'spam\r\nrun\x1b[2J from\u202e here\x85', who: '\tnoc\x07-eve\r\n', duration: '365d' })
    assert.equal(ok.status, 201)
    const { entry } = (await ok.json()) as { entry: { why: string; who: string } }
    assert.deepEqual([entry.why, entry.who], ['spam run [2J from here', 'noc -eve'])
    const refused = await greeting(relay.port('submission'), '127.0.4.8')
    assert.match(refused.line, new RegExp(`^421 4\\.7\\.1 Address 127\\.0\\.4\\.8 is blocked until ${ISO}: spam run \\[2J from here; see `))
    const list = await runCli(['penalty', 'list', '--config', relay.file, '--url', relay.adminUrl('')])
    assert.equal(list.code, 0, list.stderr)
    assert.match(list.stdout, new RegExp(`^address 127\\.0\\.4\\.8 until ${ISO} \\(by noc -eve, ${ISO}\\): spam run \\[2J from here$`, 'm'))
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(list.stdout, /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]/)
    assert.equal((await api('/api/penalty?scope=address&value=127.0.4.8', { method: 'DELETE' })).status, 200)
  })
})

describe('penalty box: the API is off without admin.token_file', () => {
  const env = relayWithSink()
  it('answers 403 to every call', async () => {
    const r = await fetch(env.relay.adminUrl('/api/penalty?instance=outbound'), { headers: { authorization: 'Bearer anything' } })
    assert.equal(r.status, 403)
  })
})

describe('penalty box rules and the tarpit', () => {
  const env = relayWithSink({}, (p) => {
    const out = p.instances.outbound
    out.relay.networks = ['127.0.0.0/8']
    out.checks = [{ check: 'mail.rate', limits: { address: { default: '1/1m' } } }]
    out.penalty_box = { reply: 'reject', rules: [{ name: 'repeat-offender', limits: ['mail.rate'], hits: 2, window: '1m', duration: '1h' }] }
    out.tarpit = { delay: '300ms', max_sockets: 1 }
  })

  it('puts a client that hits mail.rate twice in the box, refused with 554 5.7.1 and the rule as reason', async () => {
    const port = env.relay.port('submission')
    const c = await SmtpDialog.open({ port, localAddress: '127.0.1.5' })
    await c.greeting
    await c.cmd('EHLO bot.test')
    const first = await c.send('bot@customer.test', ['x@ext.test'], message('one'))
    const second = await c.cmd('MAIL FROM:<bot@customer.test>')
    const third = await c.cmd('MAIL FROM:<bot@customer.test>')
    await c.quit()
    assert.equal(first.end?.code, 250)
    assert.equal(second.code, 451)
    assert.equal(third.code, 451)
    const refused = await greeting(port, '127.0.1.5')
    assert.match(
      refused.line,
      /^554 5\.7\.1 Address 127\.0\.1\.5 is blocked until .*: limits mail\.rate hit 2 times within 1m; see https:\/\/postmaster\.example\.net\/why\/penalty-box$/,
    )
    const metrics = await metricsText(env.relay.adminUrl('/metrics'))
    assert.equal(sample(metrics, 'smarthost_penalty_box_additions_total', { relay_instance: 'outbound', by: 'rule' }), 1)
    assert.equal(sample(metrics, 'smarthost_limit_hits_total', { check: 'mail.rate', dimension: 'address', class: 'unknown', mode: 'enforce' }), 2)
  })

  it('delays refusals to an offending client, but never more than max_sockets connections at once', async () => {
    const port = env.relay.port('submission')
    // Two offenders whose next refusal is due at the same moment.
    const offenders = await Promise.all(
      ['127.0.1.6', '127.0.1.7'].map(async (localAddress) => {
        const c = await SmtpDialog.open({ port, localAddress })
        await c.greeting
        await c.cmd('EHLO bot.test')
        await c.cmd('MAIL FROM:<a@customer.test>')
        await c.cmd('RSET')
        const hit = await c.cmd('MAIL FROM:<a@customer.test>')
        return { c, hit }
      }),
    )
    const timed = await Promise.all(
      offenders.map(async ({ c }) => {
        const started = performance.now()
        const r = await c.cmd('MAIL FROM:<a@customer.test>')
        return { r, ms: performance.now() - started }
      }),
    )
    await Promise.all(offenders.map(({ c }) => c.quit()))
    assert.deepEqual(timed.map((t) => t.r.code), [451, 451])
    const [slow, fast] = [...timed].sort((a, b) => b.ms - a.ms)
    assert.ok(slow && slow.ms >= 290, `one refusal waited the tarpit delay (${slow?.ms} ms)`)
    assert.ok(fast && fast.ms < 290, `the other was answered at once, max_sockets being 1 (${fast?.ms} ms)`)
    const metrics = await metricsText(env.relay.adminUrl('/metrics'))
    assert.ok(sample(metrics, 'smarthost_tarpit_skipped_total', { relay_instance: 'outbound' }) >= 1)
  })
})
