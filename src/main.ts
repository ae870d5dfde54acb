#!/usr/bin/env -S node --max-semi-space-size=64
// A young generation large enough for the objects of messages in flight: with the default
// they are promoted and collected by full mark-compacts, the relay's worst latency.
import { UsageError } from './cli/args.js'
import { COMMANDS } from './cli/commands.js'

const HELP = `smarthost-guard: outbound SMTP smarthost that stops spam bots before the IPs get blocklisted

Usage: smarthost-guard <command> [options]   (smarthost-guard <command> --help for its options)

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(16)}${c.summary}`).join('\n')}
`

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(HELP)
    return name ? 0 : 2
  }
  const command = COMMANDS.find((c) => c.name === name)
  if (!command) {
    process.stderr.write(`smarthost-guard: unknown command ${JSON.stringify(name)}\n\n${HELP}`)
    return 2
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(command.usage)
    return 0
  }
  try {
    return await command.run(rest)
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`smarthost-guard ${command.name}: ${err.message}\n\n${command.usage}`)
      return 2
    }
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
