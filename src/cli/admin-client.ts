import { readFile } from 'node:fs/promises'
import { secretLine, secretOf } from '../config/load.js'
import type { InstanceName } from '../config/schema.js'
import { UsageError, loadPolicyOrReport } from './args.js'

/** Where a running relay's admin API is and the bearer token it wants. */
export interface AdminApi {
  /** Where the admin API may listen, tried in order: a relay serving one instance uses that instance's admin listener. */
  bases: string[]
  token: string
}

/** The command-line options every command that talks to the admin API takes (penalty, stats, alerts). */
export const ADMIN_OPTIONS = {
  config: { type: 'string', short: 'c' },
  instance: { type: 'string', short: 'i', default: 'outbound' },
  url: { type: 'string' },
  'token-file': { type: 'string' },
} as const

/** The options of a command that talks to the admin API. */
export interface AdminApiOptions {
  config?: string | undefined
  url?: string | undefined
  'token-file'?: string | undefined
}

/**
 * The admin API of the relay serving `instance`: --url and --token-file, else the policy's
 * admin listeners and admin.token_file (which serve creates at first start). Null, after
 * saying why on stderr, when the policy is invalid or the token file is not there yet.
 */
export async function adminApi(values: AdminApiOptions, instance: InstanceName, command: string): Promise<AdminApi | null> {
  const tokenFile = values['token-file']
  let token = tokenFile ? secretLine(await readFile(tokenFile, 'utf8')) : undefined
  if (tokenFile && !token) throw new UsageError(`no token in ${tokenFile}`)
  let bases = values.url ? [values.url] : []
  if (!bases.length || !token) {
    // Only this instance's files: a host running one instance may lack the other's certificates.
    const loaded = await loadPolicyOrReport(values.config, { instances: [instance] })
    if (!loaded) return null
    const url = (a: { address: string; port: number }) => `http://${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}`
    const own = loaded.policy.instances[instance]?.admin
    if (!bases.length) bases = [...new Set([...(own ? [url(own)] : []), url(loaded.policy.admin)])]
    const file = loaded.policy.admin.token_file
    if (!token && !file) throw new UsageError(`${loaded.file} names no admin.token_file: name one (the relay creates it at start), or give --token-file`)
    if (!token && file && !loaded.files.has(file)) {
      process.stderr.write(`smarthost-guard ${command}: no token file ${file} yet: the relay creates it at its first start (smarthost-guard serve)\n`)
      return null
    }
    token ??= secretOf(loaded.files, file)
    if (!token) throw new UsageError(`no token in ${file}`)
  }
  return { bases: bases.map((b) => b.replace(/\/$/, '')), token }
}

/** Calls the admin API: the parsed JSON answer (or its text) and whether it was a 2xx. */
export async function adminCall(api: AdminApi, method: string, path: string, body?: unknown): Promise<{ ok: boolean; body: unknown }> {
  let res: Response | undefined
  const unreachable: string[] = []
  for (const base of api.bases) {
    try {
      res = await fetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${api.token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      })
      break
    } catch (err) {
      unreachable.push(`${base} (${connectError(err)})`)
      // Only a refused connection surely sent nothing: then the next address may be the relay.
      if ((err as { cause?: { code?: string } }).cause?.code !== 'ECONNREFUSED') break
    }
  }
  if (!res) return { ok: false, body: { error: `cannot reach the relay's admin API at ${unreachable.join(', ')}: is the relay running?` } }
  const text = await res.text()
  let parsed: unknown = text
  try {
    parsed = JSON.parse(text)
  } catch {
    // not JSON: shown as it is
  }
  return { ok: res.ok, body: parsed }
}

/** Why fetch failed: its cause's code (ECONNREFUSED), else its message. */
function connectError(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause
  return cause?.code ?? cause?.message ?? (err as Error).message
}

