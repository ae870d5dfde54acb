import { randomBytes } from 'node:crypto'
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { Logger } from 'pino'
import { secretLine, secretOf } from '../config/load.js'
import type { LoadedPolicy } from '../config/load.js'

/**
 * The admin API's bearer token: the first line of admin.token_file, or null when none is
 * named (or it cannot be made). A named file that does not exist yet is created with a random
 * token, mode 0600, so the CLI on the same machine works with no set-up (it reads the same file).
 */
export async function adminToken(loaded: LoadedPolicy, log: Logger): Promise<string | null> {
  const file = loaded.policy.admin.token_file
  if (!file) return null
  if (loaded.files.has(file)) return secretOf(loaded.files, file) ?? null
  try {
    const { token, created } = await createTokenFile(file)
    if (created) log.info({ file }, 'created the admin API token file (mode 0600) for the CLI')
    return token
  } catch (err) {
    // A folder the service user may not write (/etc/smarthost-guard): mail goes on, the API stays off.
    log.warn(
      { file, err: (err as Error).message },
      `cannot create admin.token_file ${file}: the admin API refuses every call until it exists (make it with: openssl rand -hex 32 > ${file}; then smarthost-guard reload)`,
    )
    return null
  }
}

/**
 * Creates a token file unless one exists. Written to a private temporary file first and then
 * linked into place, so a reader never sees a half-written file and two relays starting at
 * once end up with one token.
 */
export async function createTokenFile(file: string): Promise<{ token: string; created: boolean }> {
  await mkdir(dirname(file), { recursive: true })
  const token = randomBytes(32).toString('base64url')
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  await writeFile(temporary, `${token}\n`, { mode: 0o600, flag: 'wx' })
  try {
    await link(temporary, file)
    return { token, created: true }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    return { token: secretLine(await readFile(file, 'utf8')) ?? '', created: false }
  } finally {
    await unlink(temporary)
  }
}
