import { createInterface } from 'node:readline'
import { Writable } from 'node:stream'
import { hashPassword } from '../auth/password.js'
import type { Command } from './args.js'
import { UsageError, parse } from './args.js'

/** `smarthost-guard passwd`: prints a scrypt hash for the credentials file. */
export const passwd: Command = {
  name: 'passwd',
  summary: 'print a password hash for the credentials file',
  usage: `Usage: smarthost-guard passwd [--user NAME]

Reads a password (asked twice on a terminal, else the first line of standard input) and
prints its scrypt hash, or "NAME:hash" with --user: a line for relay.credentials.

Options:
  -u, --user NAME       print a whole credentials line for this user
`,
  async run(argv) {
    const { values } = parse(argv, { user: { type: 'string', short: 'u' } })
    const password = process.stdin.isTTY ? await askTwice() : await firstLine()
    if (!password) throw new UsageError('empty password')
    const hash = await hashPassword(password)
    process.stdout.write(`${values.user ? `${values.user}:` : ''}${hash}\n`)
    return 0
  },
}

async function firstLine(): Promise<string> {
  let text = ''
  for await (const chunk of process.stdin) text += String(chunk)
  return text.split(/\r?\n/)[0] ?? ''
}

async function askTwice(): Promise<string> {
  const first = await ask('Password: ')
  const second = await ask('Again: ')
  if (first !== second) throw new UsageError('the passwords differ')
  return first
}

function ask(prompt: string): Promise<string> {
  process.stderr.write(prompt)
  const muted = new Writable({ write: (_chunk, _enc, cb) => cb() })
  const rl = createInterface({ input: process.stdin, output: muted, terminal: true })
  return new Promise((resolve) =>
    rl.question('', (answer) => {
      rl.close()
      process.stderr.write('\n')
      resolve(answer)
    }),
  )
}
