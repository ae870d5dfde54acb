import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import type { ParseArgsConfig } from 'node:util'

/** The embedded default policy tree, next to the code in the package. */
export const DEFAULT_CONFIG = fileURLToPath(new URL('../../policies/relay.yaml', import.meta.url))

/** Where the policy comes from: --config, $SMARTHOST_GUARD_CONFIG, or the embedded default. */
export function configPath(value: unknown): string {
  return typeof value === 'string' ? value : (process.env.SMARTHOST_GUARD_CONFIG ?? DEFAULT_CONFIG)
}

/** A command-line error: printed with the command's usage, exit status 2. */
export class UsageError extends Error {}

/** Parses a command's options strictly; unknown options and stray arguments are usage errors. */
export function parse<O extends NonNullable<ParseArgsConfig['options']>>(
  argv: string[],
  options: O,
  allowPositionals = false,
) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals, strict: true })
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
}

/** A subcommand of `smarthost-guard`. */
export interface Command {
  name: string
  summary: string
  usage: string
  run(argv: string[]): Promise<number>
}
