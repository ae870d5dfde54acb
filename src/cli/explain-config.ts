import { z } from 'zod'
import { CHECKS } from '../checks/index.js'
import { COMMON_CHECK_FIELDS } from '../config/check-entry.js'
import { policySchema } from '../config/schema.js'
import type { Command } from './args.js'
import { parse } from './args.js'

interface JsonSchema {
  type?: string | string[]
  description?: string
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
  const tree = toJson(policySchema)
  // Both instances share one schema: explain it once.
  const instances = tree.properties?.instances
  const outbound = instances?.properties?.outbound
  if (instances && outbound) instances.properties = { '<outbound|inbound>': outbound }
  walk(tree, '', out)
  out.push('', '# Checks', '', 'Core checks always run (configured by their instance section); the others are listed under instances.<name>.checks.', '')
  for (const check of CHECKS) {
    out.push(`${check.id}${check.core ? ' (core)' : ''}: ${check.description}`)
    if (check.options) walk(toJson(z.strictObject({ ...COMMON_CHECK_FIELDS, ...check.options.shape })), '  ', out)
    out.push('')
  }
  return out.join('\n')
}

function toJson(schema: z.ZodType): JsonSchema {
  return z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema
}

function typeOf(s: JsonSchema): string {
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
    const element = child.type === 'array' ? child.items : child
    const inner = element?.anyOf?.find((a) => a.properties) ?? element
    const map = inner?.additionalProperties
    if (inner?.properties) walk(inner, prefix, out, child.type === 'array' ? `${name}[]` : name)
    else if (map && typeof map === 'object') walk(map, prefix, out, `${name}.<key>`)
  }
}
