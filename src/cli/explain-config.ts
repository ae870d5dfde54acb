import { z } from 'zod'
import { CHECKS } from '../checks/index.js'
import { COMMON_CHECK_FIELDS } from '../config/check-entry.js'
import { CHECK_EXAMPLES } from '../config/check-examples.js'
import { SECTION_EXAMPLES } from '../config/examples.js'
import { INSTANCE_NAMES, policySchema } from '../config/schema.js'
import type { CheckDefinition } from '../pipeline/types.js'
import type { Command } from './args.js'
import { parse } from './args.js'

/** The part of JSON Schema that zod writes for the policy tree. */
export interface JsonSchema {
  type?: string | string[]
  description?: string
  format?: string
  default?: unknown
  enum?: unknown[]
  properties?: Record<string, JsonSchema>
  items?: JsonSchema
  anyOf?: JsonSchema[]
  additionalProperties?: JsonSchema | boolean
}

/** `smarthost-guard explain-config`: every policy key with its type, default and meaning. */
export const explainConfig: Command = {
  name: 'explain-config',
  summary: 'print every policy key with its type, default and meaning',
  usage: `Usage: smarthost-guard explain-config

Prints the reference of the policy tree: every key with its type, default and description,
then every check with its options. Generated from the schema the relay validates with.
`,
  run(argv) {
    parse(argv, {})
    process.stdout.write(explainPolicy())
    return Promise.resolve(0)
  },
}

/** The reference of the policy tree and of every check, generated from the schema. */
export function explainPolicy(): string {
  const out: string[] = ['# Policy tree', '']
  walk(policyReference(), '', out)
  out.push('', '# Checks', '', 'Core checks always run (configured by their instance section); the others are listed under instances.<name>.checks.', '')
  for (const check of CHECKS) {
    out.push(`${check.id}${check.core ? ' (core)' : ''}: ${check.description}`)
    const options = checkReference(check)
    if (options) walk(options, '  ', out)
    const example = CHECK_EXAMPLES[check.id]
    if (example) out.push(...exampleLines(example, '  '))
    out.push('')
  }
  return out.join('\n')
}

/** The policy tree as JSON Schema, with the two instances (one schema) shown once as `<outbound|inbound>`. */
export function policyReference(): JsonSchema {
  const tree = toJson(policySchema)
  const instances = tree.properties?.instances
  const props = instances?.properties
  if (instances && props?.outbound) {
    const each = INSTANCE_NAMES.map((n) => `${n} (${props[n]?.description ?? n})`).join(', ')
    instances.properties = { '<outbound|inbound>': { ...props.outbound, description: `An instance; both take these keys: ${each}` } }
  }
  return tree
}

/** A listed check's options as JSON Schema, the fields every check accepts first; undefined for a core check. */
export function checkReference(check: CheckDefinition): JsonSchema | undefined {
  return check.options ? toJson(z.strictObject({ ...COMMON_CHECK_FIELDS, ...check.options.shape })) : undefined
}

function exampleLines(example: string, prefix: string): string[] {
  return [`${prefix}example:`, ...example.trimEnd().split('\n').map((l) => `${prefix}  ${l}`)]
}

function toJson(schema: z.ZodType): JsonSchema {
  return z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema
}

// How explain-config names the value types of src/config/units.ts (their schemas' `format` meta).
const FORMATS: Readonly<Record<string, string>> = {
  duration: 'duration',
  size: 'size',
  ip: 'IP address',
  cidr: 'address or CIDR block',
  hostname: 'host name',
  check: 'check entry',
}

function typeOf(s: JsonSchema): string {
  const format = s.format && FORMATS[s.format]
  if (format) return format
  if (s.enum) return s.enum.map((e) => JSON.stringify(e)).join(' | ')
  if (s.anyOf) return [...new Set(s.anyOf.map(typeOf))].join(' | ')
  if (Array.isArray(s.type)) return s.type.join(' | ')
  if (s.type === 'array') return `list of ${s.items ? typeOf(s.items) : 'any'}`
  if (s.type === 'object' && s.additionalProperties && typeof s.additionalProperties === 'object') return 'map'
  return s.type ?? 'any'
}

function walk(schema: JsonSchema, prefix: string, out: string[], path = ''): void {
  for (const [key, child] of Object.entries(schema.properties ?? {})) {
    const name = path ? `${path}.${key}` : key
    const def = child.default !== undefined && !(typeof child.default === 'object' && child.default !== null && !Array.isArray(child.default)) ? ` = ${JSON.stringify(child.default)}` : ''
    out.push(`${prefix}${name} (${typeOf(child)}${def})${child.description ? `: ${child.description}` : ''}`)
    const example = SECTION_EXAMPLES[name]
    if (example) out.push(...exampleLines(example, `${prefix}  `))
    const element = child.type === 'array' ? child.items : child
    const inner = element?.anyOf?.find((a) => a.properties) ?? element
    const map = inner?.additionalProperties
    if (inner?.properties) walk(inner, prefix, out, child.type === 'array' ? `${name}[]` : name)
    else if (map && typeof map === 'object') walk(map, prefix, out, `${name}.<key>`)
  }
}
