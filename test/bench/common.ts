// What every benchmark command shares: options, progress lines, table figures.

/** The parseArgs options every relay harness takes (its USAGE lists them with the rest, --help aside). */
export const HARNESS_OPTIONS = {
  quick: { type: 'boolean', default: false },
  rounds: { type: 'string' },
  'no-build': { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const

/** A numeric option: `fallback` when not given; a clear error unless it is positive (and whole, if asked). */
export function positiveOption(name: string, value: string | undefined, fallback: number, opts: { integer?: boolean } = {}): number {
  const n = value === undefined ? fallback : Number(value)
  const integer = opts.integer ?? true
  if (!(n > 0) || (integer && !Number.isInteger(n))) {
    throw new Error(`--${name} must be a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(value)}`)
  }
  return n
}

/** A progress line on stderr (the report itself is Markdown on stdout). */
export const progress = (line: string) => void process.stderr.write(`${line}\n`)

/** 1,234 for a table; n/a when the figure could not be measured. */
export const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a')

/** Milliseconds with two decimals for a table; n/a when not measured. */
export const ms = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : 'n/a')
