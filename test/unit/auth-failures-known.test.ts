import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { pino } from 'pino'
import { authFailures } from '../../src/checks/auth-failures.js'
import { MemoryBackend } from '../../src/limits/backend.js'
import { InstanceState } from '../../src/limits/instance-state.js'
import { penaltyBoxSchema } from '../../src/limits/schema.js'
import type { SessionRecord } from '../../src/pipeline/record.js'
import type { CheckDeps } from '../../src/pipeline/types.js'

// auth.failures' known logins on a memory state, without sockets: which logins it remembers.

const log = pino({ level: 'silent' })

/** The check made from its options; `mode` is one of the fields every `checks:` entry has. */
function check(options: Record<string, unknown>, mode: 'enforce' | 'warn' = 'enforce') {
  const state = new InstanceState(new MemoryBackend(1000), { instance: 'outbound', penaltyBox: penaltyBoxSchema.parse({}), log })
  const fn = authFailures.create({ ...authFailures.options!.parse(options), mode } as never, { log, now: Date.now, state } as unknown as CheckDeps)
  const attempt = (address: string, success: boolean) => {
    const session = { client: { address, port: 1, ptr: null }, clientClass: 'default', user: null, flags: [], checks: [] } as unknown as SessionRecord
    return fn({ stage: 'auth', session, auth: { username: 'alice', method: 'PLAIN', success }, log })
  }
  return { attempt, state }
}

describe('auth.failures known logins', () => {
  it('remembers a login its warn mode lets in while the account is over its limit', async () => {
    const { attempt, state } = check({ limits: { user: { default: '1/10m' } } }, 'warn')
    assert.deepEqual([(await attempt('198.51.100.1', false)).kind, (await attempt('198.51.100.2', false)).kind], ['continue', 'tempfail'])
    assert.equal((await attempt('192.0.2.7', true)).kind, 'tempfail', 'the would-be refusal, recorded as warn by the runner')
    const bounds = { rememberMs: 30 * 86_400_000, perUser: 20 }
    assert.deepEqual(await state.knownLogins.lookup('alice', '192.0.2.7', bounds), { address: true, network: true })
  })

  it('tags the first login from an address AUTH_NEW_ADDRESS and lets a later one from its network pass as known', async () => {
    const { attempt } = check({ limits: { user: { default: '10/10m' } } })
    const first = await attempt('192.0.2.7', true)
    assert.deepEqual([first.kind, 'flags' in first ? first.flags : null], ['tag', ['AUTH_NEW_ADDRESS']])
    assert.deepEqual(await attempt('192.0.2.99', true), { kind: 'continue', detail: 'login of alice from a known network' })
  })
})
