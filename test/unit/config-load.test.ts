import assert from 'node:assert/strict'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import { configIssues, loadPolicy, parsePolicy } from '../../src/config/load.js'
import { DEFAULT_CONFIG } from '../../src/cli/args.js'

let dir: string
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shg-config-'))
})

const MINIMAL = `instances:
  outbound:
    listeners:
      - name: submission
        address: 127.0.0.1
        port: 2525
        tls: none
    next_hops: [127.0.0.1:2500]
`

async function issuesOf(text: string, name = 'relay.yaml'): Promise<string[]> {
  const file = join(dir, name)
  try {
    await parsePolicy(file, text)
  } catch (err) {
    const issues = configIssues(err)
    if (issues) return issues.map((i) => i.replace(file, name))
    throw err
  }
  assert.fail('the policy was accepted')
}

describe('loading the policy tree', () => {
  it('accepts a minimal tree and fills in the defaults', async () => {
    const { policy } = await parsePolicy(join(dir, 'relay.yaml'), MINIMAL)
    const outbound = policy.instances.outbound!
    assert.equal(outbound.limits.message_size, 25 * 1024 * 1024)
    assert.equal(outbound.limits.idle_timeout, 300_000)
    assert.deepEqual(outbound.next_hops[0], {
      host: '127.0.0.1',
      port: 2500,
      tls: 'opportunistic',
      max_connections: 20,
      connect_timeout: 10_000,
      timeout: 120_000,
      data_reply_timeout: 600_000,
    })
    assert.ok(Object.isFrozen(outbound.limits), 'a loaded policy is frozen')
  })

  it('validates the embedded default tree', async () => {
    const { policy } = await loadPolicy(DEFAULT_CONFIG)
    assert.equal(policy.instances.outbound?.listeners[0]?.port, 2525)
    assert.equal(policy.instances.outbound?.listeners[1]?.port, 2465)
    assert.equal(policy.instances.inbound?.listeners[0]?.port, 2526)
    assert.equal(policy.admin.port, 9465)
    assert.deepEqual(policy.instances.outbound?.relay.networks, ['127.0.0.1/32', '::1/128'])
  })

  it('names file, line, column and key of an unknown key', async () => {
    const issues = await issuesOf(MINIMAL.replace('        tls: none', '        tls: none\n        prot: 25'))
    assert.deepEqual(issues, ['relay.yaml:8:9 instances.outbound.listeners[0].prot: unknown key "prot" — did you mean "port"?'])
  })

  it('names the key of a value of the wrong type and says in words what was expected', async () => {
    const issues = await issuesOf(MINIMAL.replace('port: 2525', 'port: "smtp"'))
    assert.equal(issues.length, 1)
    assert.deepEqual(issues, ['relay.yaml:6:15 instances.outbound.listeners[0].port: expected a number, got "smtp"'])
  })

  it('reports every problem at once', async () => {
    const text = MINIMAL.replace('tls: none', 'tls: sometimes').replace('[127.0.0.1:2500]', '["127.0.0.1"]') + '    relay:\n      networks: [10.0.0.0/33]\n'
    const issues = await issuesOf(text)
    assert.equal(issues.length, 3, issues.join('\n'))
    assert.equal(issues[0], 'relay.yaml:7:14 instances.outbound.listeners[0].tls: expected one of none, starttls, implicit, got "sometimes"')
    assert.match(issues.join('\n'), /relay\.yaml:10:18 instances\.outbound\.relay\.networks\[0\]: expected an address or CIDR block such as 192\.0\.2\.0\/24, got "10\.0\.0\.0\/33"/)
    assert.match(issues.join('\n'), /relay\.yaml:8:17 instances\.outbound\.next_hops\[0\]: /)
  })

  it('names the key of a next hop written as host:port whose port is out of range', async () => {
    const issues = await issuesOf(MINIMAL.replace('[127.0.0.1:2500]', '[127.0.0.1:99999]'))
    assert.deepEqual(issues, ['relay.yaml:8:17 instances.outbound.next_hops[0].port: expected at most 65535, got 99999'])
  })

  it('reports YAML syntax errors with their position', async () => {
    const issues = await issuesOf('instances:\n  outbound: [\n')
    assert.match(issues[0]!, /^relay\.yaml:\d+:\d+ /)
  })

  it('refuses a duplicated key instead of silently taking the last', async () => {
    const issues = await issuesOf(MINIMAL + 'hostname: a.test\nhostname: b.test\n')
    assert.match(issues[0]!, /^relay\.yaml:10:1 Map keys must be unique/)
  })

  it('refuses AUTH on a listener without TLS or without a credentials file', async () => {
    const issues = await issuesOf(MINIMAL.replace('        tls: none', '        tls: none\n        auth: true'))
    assert.deepEqual(issues, [
      'relay.yaml:8:15 instances.outbound.listeners[0].auth: auth needs tls: starttls or implicit (passwords are never accepted in clear text)',
      'relay.yaml:8:15 instances.outbound.listeners[0].auth: auth is offered but relay.credentials names no credentials file',
    ])
  })

  it('names unknown and core checks listed under checks', async () => {
    const issues = await issuesOf(MINIMAL + '    checks:\n      - check: rcpt.nonsense\n      - check: rcpt.relay_auth\n      - check: mail.sender_access\n        rules: [{ match: [x.test], action: reject, colour: red }]\n')
    assert.equal(issues.length, 3, issues.join('\n'))
    assert.match(issues[0]!, /^relay\.yaml:10:16 instances\.outbound\.checks\[0\]\.check: unknown check "rcpt\.nonsense"; known: connect\.client_access, mail\.sender_access, rcpt\.recipient_access\b/)
    assert.match(issues[1]!, /^relay\.yaml:11:16 instances\.outbound\.checks\[1\]\.check: rcpt\.relay_auth is a core check/)
    assert.match(issues[2]!, /^relay\.yaml:13:\d+ instances\.outbound\.checks\[2\]\.rules\[0\]\.colour: unknown key "colour"$/)
  })

  it('names the key of a file that cannot be read, and the line of a bad credentials entry', async () => {
    await writeFile(join(dir, 'creds.passwd'), '# users\nalice:$scrypt$ln=14,r=8,p=1$c2FsdA$aGFzaA\nbob:plaintext\n')
    const text = MINIMAL.replace('        tls: none', '        tls: starttls\n        cert: missing.pem\n        key: missing.key\n        auth: true') +
      '    relay:\n      credentials: creds.passwd\n'
    const issues = await issuesOf(text)
    assert.deepEqual(issues, [
      `relay.yaml:8:15 instances.outbound.listeners[0].cert: cannot read ${join(dir, 'missing.pem')}: no such file`,
      `relay.yaml:9:14 instances.outbound.listeners[0].key: cannot read ${join(dir, 'missing.key')}: no such file`,
      `${join(dir, 'creds.passwd')}:3:5 bob: not a scrypt hash (make one with smarthost-guard passwd)`,
    ])
  })

  it('refuses two listeners on the same address and port', async () => {
    const text = MINIMAL.replace('    next_hops', '      - name: again\n        address: 127.0.0.1\n        port: 2525\n        tls: none\n    next_hops')
    const issues = await issuesOf(text)
    assert.deepEqual(issues, ['relay.yaml:10:15 instances.outbound.listeners[1].port: 127.0.0.1:2525 cannot be bound together with listeners[0] (127.0.0.1:2525)'])
  })

  it('sees that a wildcard listener clashes with a specific address on the same port', async () => {
    const text = MINIMAL.replace('    next_hops', '      - name: again\n        address: "::"\n        port: 2525\n        tls: none\n    next_hops')
    const issues = await issuesOf(text)
    assert.deepEqual(issues, ['relay.yaml:10:15 instances.outbound.listeners[1].port: :::2525 cannot be bound together with listeners[0] (127.0.0.1:2525)'])
  })
})

describe('certificates', () => {
  it('refuses a certificate and key that TLS cannot use, naming the listener', async () => {
    await writeFile(join(dir, 'bad-cert.pem'), '-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n')
    await writeFile(join(dir, 'bad-key.pem'), 'not a key\n')
    const text = MINIMAL.replace('        tls: none', '        tls: starttls\n        cert: bad-cert.pem\n        key: bad-key.pem')
    const issues = await issuesOf(text)
    assert.equal(issues.length, 1)
    assert.match(issues[0]!, new RegExp(`^relay\\.yaml:8:15 instances\\.outbound\\.listeners\\[0\\]\\.cert: cannot use ${join(dir, 'bad-cert.pem')} with ${join(dir, 'bad-key.pem')}: `))
  })
})

describe('one instance per process', () => {
  it('reads only the files of the instances that will run', async () => {
    const text = MINIMAL + `  inbound:
    listeners:
      - name: mx
        address: 127.0.0.1
        port: 2526
        cert: /nonexistent/mx.pem
        key: /nonexistent/mx.key
    next_hops: [127.0.0.1:2500]
`
    const file = join(dir, 'two.yaml')
    await assert.rejects(parsePolicy(file, text), /instances\.inbound\.listeners\[0\]\.cert: cannot read \/nonexistent\/mx\.pem/)
    const outboundOnly = await parsePolicy(file, text, { instances: ['outbound'] })
    assert.ok(outboundOnly.policy.instances.inbound, 'the whole tree is still validated')
  })
})
