/**
 * A policy value as a problem report quotes it: scalars as written in YAML, collections by kind.
 * @example valueText(true) // "true"; valueText(['a']) // "a list"
 */
export function valueText(value: unknown): string {
  if (value === undefined || value === null) return 'nothing'
  if (Array.isArray(value)) return 'a list'
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value)
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value)
  return 'a map'
}
