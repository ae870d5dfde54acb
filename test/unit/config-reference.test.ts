import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseDocument } from 'yaml'
import { CHECKS } from '../../src/checks/index.js'
import { checkReference, explainPolicy, policyReference } from '../../src/cli/explain-config.js'
import type { JsonSchema } from '../../src/cli/explain-config.js'
import { CHECK_EXAMPLES } from '../../src/config/check-examples.js'
import { SECTION_EXAMPLES } from '../../src/config/examples.js'
import { issueText } from '../../src/config/issue-text.js'
import { policySchema } from '../../src/config/schema.js'

type Json = Record<string, unknown>
const isMap = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)

/** Every key of a reference tree, as explain-config names it, with its schema. */
function keysOf(schema: JsonSchema, path = ''): [string, JsonSchema][] {
  return Object.entries(schema.properties ?? {}).flatMap(([key, child]): [string, JsonSchema][] => {
    const name = path ? `${path}.${key}` : key
    const element = child.type === 'array' ? child.items : child
    const inner = element?.anyOf?.find((a) => a.properties) ?? element
    const map = inner?.additionalProperties
    const below = inner?.properties
      ? keysOf(inner, child.type === 'array' ? `${name}[]` : name)
      : map && typeof map === 'object'
        ? keysOf(map, `${name}.<key>`)
        : []
    return [[name, child], ...below]
  })
}

/** A section: a top-level key or a key of an instance that holds a map or a list of maps. */
function sections(): string[] {
  const tree = policyReference()
  const holdsMaps = (s: JsonSchema) => [s, s.items, ...(s.anyOf ?? []), ...(s.items?.anyOf ?? [])].some((x) => x?.type === 'object' || x?.properties)
  return keysOf(tree)
    .filter(([name, s]) => (!name.includes('.') || /^instances\.<outbound\|inbound>\.[a-z_]+$/.test(name)) && (holdsMaps(s) || name.endsWith('.checks')))
    .map(([name]) => name)
}

// Both instances, as small as the schema allows; an example is merged into it (maps merged,
// lists and values replaced), so it is validated in the tree it would be pasted into.
const BASE: Json = {
  instances: {
    outbound: {
      listeners: [{ name: 'submission', address: '127.0.0.1', port: 2525, tls: 'starttls', auth: true }],
      relay: { credentials: 'users.passwd' },
      next_hops: ['127.0.0.1:2500'],
    },
    inbound: { listeners: [{ name: 'mx', address: '127.0.0.1', port: 2526 }], next_hops: ['127.0.0.1:2500'] },
  },
}

function merge(base: Json, add: Json): Json {
  const out: Json = { ...base }
  for (const [k, v] of Object.entries(add)) out[k] = isMap(v) && isMap(out[k]) ? merge(out[k], v) : v
  return out
}

function problemsOf(example: string): string[] {
  const doc = parseDocument(example)
  if (doc.errors.length) return doc.errors.map((e) => e.message)
  const parsed = policySchema.safeParse(merge(BASE, doc.toJS() as Json), { error: issueText })
  return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)
}

describe('configuration reference', () => {
  it('describes every key of the policy tree and of every check', () => {
    const trees = [policyReference(), ...CHECKS.map((c) => checkReference(c)).filter((t) => t !== undefined)]
    const bare = trees.flatMap((t) => keysOf(t)).filter(([, s]) => !s.description?.trim()).map(([name]) => name)
    assert.deepEqual(bare, [], 'keys without .describe()')
  })

  it('explains the instance key as both instances, not as the outbound one', () => {
    const line = explainPolicy().split('\n').find((l) => l.startsWith('instances.<outbound|inbound> ('))
    assert.match(line ?? '', /outbound \(customer submission[^)]*\), inbound \(MX traffic/)
  })

  it('has a YAML example for every section and every listed check, and none for a key that does not exist', () => {
    const all = sections()
    assert.ok(all.includes('dns') && all.includes('instances.<outbound|inbound>.limits'), all.join(' '))
    assert.deepEqual(all.filter((s) => !SECTION_EXAMPLES[s]), [], 'sections without an example in src/config/examples.ts')
    assert.deepEqual(Object.keys(SECTION_EXAMPLES).filter((s) => !all.includes(s)), [], 'examples of no section')
    const listed = CHECKS.filter((c) => c.options).map((c) => c.id)
    assert.deepEqual(listed.filter((id) => !CHECK_EXAMPLES[id]), [], 'checks without an example in src/config/check-examples.ts')
    assert.deepEqual(Object.keys(CHECK_EXAMPLES).filter((id) => !listed.includes(id as never)), [], 'examples of no listed check')
  })

  it('accepts every example, pasted into a minimal policy tree', () => {
    const refused = Object.entries({ ...SECTION_EXAMPLES, ...CHECK_EXAMPLES }).flatMap(([name, example]) =>
      problemsOf(example).map((p) => `${name}: ${p}`),
    )
    assert.deepEqual(refused, [])
  })

  it('shows each check its example under instances.<name>.checks', () => {
    const text = explainPolicy()
    for (const id of Object.keys(CHECK_EXAMPLES)) assert.ok(text.includes(`      - check: ${id}\n`), id)
  })

  it('refuses an example that does not match the schema', () => {
    assert.deepEqual(problemsOf('instances:\n  outbound:\n    limits:\n      idle_timout: 5m\n'), [
      'instances.outbound.limits: unknown key "idle_timout" \u2014 did you mean "idle_timeout"?',
    ])
  })
})
