/**
 * The one time format of the command line: ISO 8601 in UTC, to the second (what the JSON
 * output carries too, so text and JSON read alike).
 *
 * @example isoTime(0) // '1970-01-01T00:00:00Z'
 */
export function isoTime(time: number | string | Date): string {
  const date = new Date(time)
  return Number.isNaN(date.getTime()) ? String(time) : date.toISOString().replace(/\.\d{3}Z$/, 'Z')
}
