import { userInfo } from 'node:os'
import { fileURLToPath } from 'node:url'
import { configIssues, loadPolicy } from '../config/load.js'
import type { LoadOptions, LoadedPolicy } from '../config/load.js'
import type { InstanceName } from '../config/schema.js'
import { INSTANCE_NAMES } from '../config/schema.js'
import { parseArgs } from 'node:util'
import type { ParseArgsConfig } from 'node:util'

/** The embedded default policy tree, next to the code in the package. */
export const DEFAULT_CONFIG = fileURLToPath(new URL('../../policies/relay.yaml', import.meta.url))

/** Where the policy comes from: --config, $SMARTHOST_GUARD_CONFIG, or the embedded default. */
export function configPath(value: unknown): string {
  return typeof value === 'string' ? value : (process.env.SMARTHOST_GUARD_CONFIG ?? DEFAULT_CONFIG)
}

/** A command-line error: printed as one line with a pointer to the command's --help, exit status 2. */
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

/**
 * Loads the policy a command works on. An invalid tree is printed as every problem
 * (FILE:LINE:COL KEY: PROBLEM) and a count on stderr, and null is returned: exit 1.
 */
export async function loadPolicyOrReport(file: unknown, opts: LoadOptions = {}): Promise<LoadedPolicy | null> {
  try {
    return await loadPolicy(configPath(file), opts)
  } catch (err) {
    const issues = configIssues(err)
    if (!issues) throw err
    process.stderr.write(`${issues.join('\n')}\n${issues.length} problem${issues.length === 1 ? '' : 's'} found\n`)
    return null
  }
}

/** The value of --instance, checked. */
export function instanceName(value: unknown): InstanceName {
  if (!INSTANCE_NAMES.includes(value as InstanceName)) {
    throw new UsageError(`--instance must be outbound or inbound, got ${JSON.stringify(value)}`)
  }
  return value as InstanceName
}

/**
 * Who runs an operator command, for the records it leaves (penalty entries, releases): the
 * user behind sudo, else the login name.
 */
export function operatorName(): string {
  if (process.env.SUDO_USER) return process.env.SUDO_USER
  try {
    return userInfo().username
  } catch {
    return process.env.USER ?? 'operator'
  }
}
