import type { z } from 'zod'
import { didYouMeanText } from './did-you-mean.js'
import { valueText } from './value-text.js'

// What a postmaster reads for a policy value the schema refuses. Passed to zod as the error map
// of a parse, it words only the issues whose schema gave no text of its own (a schema's own
// message, e.g. a duration's or a refinement's, always wins).

type RawIssue = z.core.$ZodRawIssue

const TYPE_NAMES: Readonly<Record<string, string>> = {
  string: 'text',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  tuple: 'a list',
  object: 'a map',
  record: 'a map',
  map: 'a map',
  null: 'null',
}

const FORMAT_NAMES: Readonly<Record<string, string>> = {
  email: 'an e-mail address',
  url: 'a URL',
  ipv4: 'an IPv4 address',
  ipv6: 'an IPv6 address',
  cidrv4: 'an IPv4 CIDR block',
  cidrv6: 'an IPv6 CIDR block',
  hostname: 'a host name',
  uuid: 'a UUID',
  datetime: 'an ISO 8601 date and time',
}

/**
 * The readable text of a zod issue, for `safeParse(value, { error: issueText })`. An unknown-keys
 * issue gets one line per key, in the order of `issue.keys`, each with the closest allowed key.
 * @example issueText(wrongType) // 'expected a number, got "smtp"'
 */
export function issueText(issue: RawIssue): string | undefined {
  const got = valueText(issue.input)
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined ? `missing: expected ${typeName(issue.expected)}` : `expected ${typeName(issue.expected)}, got ${got}`
    case 'invalid_value':
      return `expected ${issue.values.length === 1 ? scalar(issue.values[0]) : `one of ${issue.values.map(scalar).join(', ')}`}, got ${got}${didYouMeanText(issue.input, issue.values.map(String))}`
    case 'too_small':
      return `expected ${bound(issue.origin, 'at least', 'more than', issue.minimum, issue.inclusive, issue.exact)}, got ${sizeOf(issue.origin, issue.input)}`
    case 'too_big':
      return `expected ${bound(issue.origin, 'at most', 'less than', issue.maximum, issue.inclusive, issue.exact)}, got ${sizeOf(issue.origin, issue.input)}`
    case 'invalid_format':
      return issue.format === 'regex' && issue.pattern
        ? `expected text of the form ${issue.pattern}, got ${got}`
        : `expected ${FORMAT_NAMES[issue.format] ?? issue.format}, got ${got}`
    case 'not_multiple_of':
      return `expected a multiple of ${issue.divisor}, got ${got}`
    case 'unrecognized_keys':
      return issue.keys.map((k) => `unknown key ${JSON.stringify(k)}${didYouMeanText(k, knownKeys(issue))}`).join('\n')
    case 'invalid_key':
      return `bad key: ${issue.issues[0]?.message ?? 'not allowed here'}`
    case 'invalid_union':
      return unionText(issue, got)
    default:
      return undefined
  }
}

function typeName(expected: string): string {
  return TYPE_NAMES[expected] ?? expected
}

function scalar(value: unknown): string {
  return typeof value === 'string' ? value : String(value)
}

/** The keys the object that raised an unknown-keys issue allows (its strict shape). */
function knownKeys(issue: RawIssue): string[] {
  const def = (issue.inst as { _zod?: { def?: { shape?: Record<string, unknown> } } } | undefined)?._zod?.def
  return Object.keys(def?.shape ?? {})
}

function bound(origin: string, inclusive: string, exclusive: string, limit: number | bigint, isInclusive?: boolean, exact?: boolean): string {
  const n = Number(limit)
  const what = origin === 'array' || origin === 'set' ? plural(n, 'entry', 'entries') : origin === 'string' ? plural(n, 'character', 'characters') : String(n)
  if (exact) return `exactly ${what}`
  return `${isInclusive === false ? exclusive : inclusive} ${what}`
}

function sizeOf(origin: string, input: unknown): string {
  if (Array.isArray(input)) return plural(input.length, 'entry', 'entries')
  if (origin === 'string' && typeof input === 'string') return plural(input.length, 'character', 'characters')
  return valueText(input)
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`
}

/**
 * A union no option accepts. When every option refused the value's type, what each expected;
 * when one option took the type but not the details (a map with a bad field), that option's problem.
 */
function unionText(issue: Extract<RawIssue, { code: 'invalid_union' }>, got: string): string | undefined {
  const expected: string[] = []
  const values: string[] = []
  for (const option of issue.errors) {
    const root = option.length === 1 && option[0]?.path.length === 0 ? option[0] : undefined
    if (root?.code === 'invalid_type') expected.push(typeName(root.expected))
    else if (root?.code === 'invalid_value') values.push(...root.values.map(scalar))
    else return deeperText(option)
  }
  const names = [...new Set([...values, ...expected])]
  const list = names.length > 1 ? `${names.slice(0, -1).join(', ')} or ${names.at(-1)}` : (names[0] ?? 'something else')
  return `expected ${list}, got ${got}${didYouMeanText(issue.input, values)}`
}

/** The first problem of the option that got furthest, with where it is inside the value. */
function deeperText(option: readonly z.core.$ZodIssue[]): string | undefined {
  const first = option[0]
  if (!first) return undefined
  const at = first.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '')
  return at ? `${at}: ${first.message}` : first.message
}
