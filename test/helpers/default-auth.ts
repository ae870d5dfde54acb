import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { parse } from 'yaml'
import { DEFAULT_CONFIG } from '../../src/cli/args.js'
import type { PolicyTree } from './relay.js'

/**
 * The embedded default policy's outbound `smtp` section and its `auth.failures` check, read from
 * policies/relay.yaml rather than copied, so that a test of password guessing follows the shipped
 * values.
 */
export async function defaultAuthFailures(): Promise<{ smtp: PolicyTree; authFailures: PolicyTree }> {
  const tree = parse(await readFile(DEFAULT_CONFIG, 'utf8')) as PolicyTree
  const outbound = tree.instances.outbound as PolicyTree
  const authFailures = (outbound.checks as PolicyTree[]).find((c) => c.check === 'auth.failures')
  assert.ok(authFailures, 'policies/relay.yaml lists auth.failures')
  return { smtp: outbound.smtp as PolicyTree, authFailures }
}
