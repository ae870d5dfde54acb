#!/usr/bin/env node
import { UsageError } from './cli/args.js'
import { COMMANDS } from './cli/commands.js'
import { VERSION } from './cli/version.js'

const HELP = `smarthost-guard: outbound SMTP smarthost that stops spam bots before the IPs get blocklisted

Usage: smarthost-guard <command> [options]   (smarthost-guard <command> --help for its options)
       smarthost-guard --version

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(16)}${c.summary}`).join('\n')}
`

/** A usage error: one line saying what is wrong and where to read more (getopt tools' habit), exit 2. */
function usageError(where: string, message: string, help: string): number {
  process.stderr.write(`${where}: ${message}\nTry '${help}'.\n`)
  return 2
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === '--version' || name === '-V') {
    process.stdout.write(`smarthost-guard ${VERSION}\n`)
    return 0
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(HELP)
    return 0
  }
  if (!name) return usageError('smarthost-guard', 'say which command', 'smarthost-guard --help')
  const command = COMMANDS.find((c) => c.name === name)
  if (!command) return usageError('smarthost-guard', `unknown command ${JSON.stringify(name)}`, 'smarthost-guard --help')
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(command.usage)
    return 0
  }
  try {
    return await command.run(rest)
  } catch (err) {
    if (err instanceof UsageError) return usageError(`smarthost-guard ${command.name}`, err.message, `smarthost-guard ${command.name} --help`)
    throw err
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== -1) process.exitCode = code
  },
  (err: unknown) => {
    process.stderr.write(`smarthost-guard: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exitCode = 1
  },
)
