import { createInterface } from 'node:readline'
import { Writable } from 'node:stream'
import { hashPassword } from '../auth/password.js'
import { parseSenderPattern } from '../auth/sender-patterns.js'
import type { Command } from './args.js'
import { UsageError, parse } from './args.js'

/** `smarthost-guard passwd`: prints a scrypt hash for the credentials file. */
export const passwd: Command = {
  name: 'passwd',
  summary: 'print a password hash for the credentials file',
  usage: `Usage: smarthost-guard passwd [--user NAME [--sender SENDER]...]

Reads a password and prints its scrypt hash, or "NAME:hash" with --user: a line for the
file relay.credentials names. On a terminal the password is asked twice and not echoed;
when standard input is not a terminal (a pipe, a file) its first line is the password, so
scripts can use it:  printf '%s\\n' "$PW" | smarthost-guard passwd --user alice >> var/users.passwd
A running relay reads the file again on smarthost-guard reload.

Options:
  -u, --user NAME       print a whole credentials line for this user (no ":", white space or
                        control characters: the file could not hold them)
  -s, --sender SENDER   an envelope sender the user may use (mail.sender_login): an address,
                        @domain or .domain (its subdomains); repeat for more. The line becomes
                        NAME:hash:SENDER,SENDER
`,
  async run(argv) {
    const { values } = parse(argv, { user: { type: 'string', short: 'u' }, sender: { type: 'string', short: 's', multiple: true } })
    if (values.user !== undefined) checkUserName(values.user)
    const senders = values.sender ?? []
    if (senders.length && !values.user) throw new UsageError('--sender needs --user: the senders belong on the user\u2019s line')
    checkSenders(senders)
    const password = process.stdin.isTTY ? await askTwice() : await firstLine()
    if (!password) throw new UsageError('empty password')
    const hash = await hashPassword(password)
    process.stdout.write(`${values.user ? `${values.user}:` : ''}${hash}${senders.length ? `:${senders.join(',')}` : ''}\n`)
    return 0
  },
}

// The credentials file is "user:hash[:senders]" per line, white space trimmed, "#" starting a comment:
// a name with these could not be read back as written (parseCredentials).
// eslint-disable-next-line no-control-regex
const UNFIT = /[:\s\x00-\x1f\x7f]/

/** Refuses a user name the credentials file cannot hold, before a password is asked for. */
function checkUserName(name: string): void {
  if (!name) throw new UsageError('--user needs a name')
  const bad = UNFIT.exec(name)?.[0]
  if (bad !== undefined) {
    const what = bad === ':' ? '":"' : /\s/.test(bad) ? 'white space' : 'a control character'
    throw new UsageError(`user name ${JSON.stringify(name)} has ${what}, which the credentials file cannot hold`)
  }
  if (name.startsWith('#')) throw new UsageError(`user name ${JSON.stringify(name)} starts with "#", which the credentials file reads as a comment`)
}

/** Refuses a sender the credentials file's senders field could not hold or mail.sender_login would not understand. */
function checkSenders(senders: readonly string[]): void {
  for (const sender of senders) {
    if (parseSenderPattern(sender) === null) {
      throw new UsageError(`--sender ${JSON.stringify(sender)} is not an address, @domain or .domain`)
    }
  }
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
