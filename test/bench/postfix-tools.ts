import { once } from 'node:events'
import { access, constants } from 'node:fs/promises'
import { delimiter, join } from 'node:path'
import { spawnChild } from '../helpers/children.js'
import { smtpChild } from './ports.js'
import type { SmtpChild } from './ports.js'

// Debian and most distributions install Postfix's test programs in sbin, often not on PATH.
const EXTRA_DIRS = ['/usr/sbin', '/usr/local/sbin', '/usr/libexec/postfix']

/** Finds a program on PATH or in the sbin folders; throws with a hint when it is missing. */
export async function findProgram(name: string): Promise<string> {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...EXTRA_DIRS]
  for (const dir of dirs) {
    const file = join(dir, name)
    try {
      await access(file, constants.X_OK)
      return file
    } catch {
      // not here
    }
  }
  throw new Error(`${name} not found on PATH or in ${EXTRA_DIRS.join(', ')}; install Postfix (it ships smtp-source and smtp-sink)`)
}

/** Starts smtp-sink on 127.0.0.1:`port`: it accepts every message and throws it away. */
export async function startSmtpSink(program: string, port: number): Promise<SmtpChild> {
  // smtp-sink refuses to run as root unless told which user to switch to.
  const user = process.getuid?.() === 0 ? ['-u', 'root'] : []
  // -m: more simultaneous sessions than the default 256, so the sink never limits a run.
  const child = spawnChild(program, [...user, '-m', '1024', `127.0.0.1:${port}`, '1024'], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  return smtpChild(child, port, 5000, 'smtp-sink', () => stderr)
}

/** The shape of a load: the same for the direct and the relayed run. */
export interface Load {
  sessions: number
  /** Payload bytes per message (smtp-source -l; headers come on top). */
  size: number
  recipients: number
  /** Send every message of a session over one connection (smtp-source -d). */
  reuse: boolean
  /** Send this pre-formatted message file instead of a generated one (smtp-source -F). */
  file?: string
}

/** What one smtp-source run did. */
export interface SourceRun {
  messages: number
  seconds: number
  rate: number
}

/**
 * Runs smtp-source to completion against 127.0.0.1:`port` and times it. smtp-source stops
 * with a non-zero status at the first reply that is not a success, which is an error here.
 */
export async function runSmtpSource(program: string, port: number, load: Load, messages: number): Promise<SourceRun> {
  const args = [
    '-s', String(load.sessions),
    '-m', String(messages),
    ...(load.file ? ['-F', load.file] : ['-l', String(load.size)]),
    '-r', String(load.recipients),
    ...(load.reuse ? ['-d'] : []),
    '-M', 'client.bench.example',
    '-f', 'sender@client.bench.example',
    '-t', 'rcpt@remote.bench.example',
    `127.0.0.1:${port}`,
  ]
  const started = process.hrtime.bigint()
  const child = spawnChild(program, args, { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null]
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  if (code !== 0) {
    throw new Error(`smtp-source ${args.join(' ')} failed (${signal ?? code}): ${stderr.trim()}`)
  }
  return { messages, seconds, rate: messages / seconds }
}
