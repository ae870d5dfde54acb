import { chmod, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises'
import { dirname, extname } from 'node:path'
import type { InstanceName } from '../config/schema.js'

/**
 * The pid file of a relay: the policy's pid_file for `serve`, and for `serve --instance NAME`
 * the same name with "-NAME" before its extension, so two instances of one tree, run as two
 * processes, do not overwrite each other's.
 *
 * @example pidFileFor('/srv/var/smarthost-guard.pid', 'outbound') // '/srv/var/smarthost-guard-outbound.pid'
 */
export function pidFileFor(pidFile: string, instance?: InstanceName): string {
  if (!instance) return pidFile
  const ext = extname(pidFile)
  return `${pidFile.slice(0, pidFile.length - ext.length)}-${instance}${ext}`
}

/** Writes this process's id to `file`: a temporary file renamed into place, so a reader never sees half of it. */
export async function writePidFile(file: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true })
  const temporary = `${file}.${process.pid}.tmp`
  await writeFile(temporary, `${process.pid}\n`)
  // The mode given to writeFile is narrowed by the umask; a pid file is for every user to read.
  await chmod(temporary, 0o644)
  await rename(temporary, file)
}

/** Removes `file` if it still names this process (another relay may have taken it over since). */
export async function removePidFile(file: string): Promise<void> {
  if ((await readPidFile(file).catch(() => null)) === process.pid) await unlink(file).catch(() => undefined)
}

/** The process id in a pid file; null when there is no such file. Throws when the file holds no pid. */
export async function readPidFile(file: string): Promise<number | null> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
  const pid = Number(text.trim())
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(pid) || pid <= 1) {
    throw new Error(`${file} holds no process id (got ${JSON.stringify(text.trim().slice(0, 40))})`)
  }
  return pid
}

/** What a pid file's process is: running, gone, or run by a user we may not signal. */
export type PidState = 'running' | 'gone' | 'not-permitted'

/** Whether the process `pid` runs (signal 0 checks without sending anything). */
export function pidState(pid: number): PidState {
  try {
    process.kill(pid, 0)
    return 'running'
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? 'not-permitted' : 'gone'
  }
}

/**
 * Whether the process `pid` is a `smarthost-guard serve`, from its command line (Linux /proc);
 * null where that cannot be told. Guards against a stale pid file whose number was reused.
 */
export async function isServeProcess(pid: number): Promise<boolean | null> {
  let cmdline: string
  try {
    cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8')
  } catch {
    return null
  }
  return cmdline.split('\0').includes('serve')
}
