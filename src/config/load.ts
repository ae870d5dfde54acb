import { readFile, stat } from 'node:fs/promises'
import { dirname, isAbsolute, resolve } from 'node:path'
import { createSecureContext } from 'node:tls'
import { LineCounter, isMap, isPair, isScalar, parseDocument } from 'yaml'
import type { Document, Node } from 'yaml'
import type { z } from 'zod'
import { parseCredentials } from '../auth/credentials.js'
import { parseNetworkFile } from '../classes/classifier.js'
import { RelayError } from '../errors/relay-error.js'
import { loadPolicyRules } from '../scan/policy-rules.js'
import { deepFreeze } from './freeze.js'
import { issueText } from './issue-text.js'
import type { InstanceName, Policy } from './schema.js'
import { INSTANCE_NAMES, policySchema } from './schema.js'

/** A validated, frozen policy tree and the contents of every file it names. */
export interface LoadedPolicy {
  readonly file: string
  readonly policy: Policy
  /** Absolute path → contents: certificates, keys, credentials, recipient lists, passwords. */
  readonly files: ReadonlyMap<string, string>
  /** What is valid but unsafe, as `file:line:col key: warning: …` (a secret file others can read). */
  readonly warnings: readonly string[]
}

/**
 * A secret file as the policy names it (a password or token file): its first line, trimmed;
 * undefined when no file is named or it is empty.
 */
export function secretOf(files: ReadonlyMap<string, string>, path: string | undefined): string | undefined {
  return path ? secretLine(files.get(path)) : undefined
}

/** The secret in a password or token file's text: its first line, trimmed; undefined when empty. */
export function secretLine(text: string | undefined): string | undefined {
  return text?.split(/\r?\n/)[0]?.trim() || undefined
}

/** Which instances will run: only their files (certificates, credentials, lists) are read. */
export interface LoadOptions {
  instances?: readonly InstanceName[] | undefined
}

/**
 * Loads and validates a policy file. Every problem is reported at once, each as
 * `file:line:col key: what is wrong`; then this throws RELAY_ERR_CONFIG_INVALID.
 */
export async function loadPolicy(file: string, opts: LoadOptions = {}): Promise<LoadedPolicy> {
  const path = resolve(file)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new RelayError('RELAY_ERR_CONFIG_READ', [path, (err as Error).message], { cause: err })
  }
  return parsePolicy(path, text, opts)
}

/** Validates policy text as if read from `path` (used by tests and reload). */
export async function parsePolicy(path: string, text: string, opts: LoadOptions = {}): Promise<LoadedPolicy> {
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false })
  const issues: string[] = doc.errors.map((e) => {
    const pos = lines.linePos(e.pos[0])
    return `${path}:${pos.line}:${pos.col} ${e.message.split('\n')[0]}`
  })
  if (issues.length) throw invalid(issues)
  const parsed = policySchema.safeParse(doc.toJS() ?? {}, { error: issueText, reportInput: true })
  if (!parsed.success) throw invalid(byPosition(parsed.error.issues.map((i) => formatIssue(path, doc, lines, i))))
  const policy = parsed.data
  resolvePaths(policy, dirname(path))
  const running = opts.instances?.length ? opts.instances : INSTANCE_NAMES
  const warnings: string[] = []
  const files = await readNamedFiles(path, doc, lines, policy, running, issues, warnings)
  await loadPolicyRules(policy, running, files, (at, problem) => issues.push(`${where(path, doc, lines, at, false)} ${keyName(at)}: ${problem}`))
  if (!issues.length) checkCertificates(path, doc, lines, policy, running, files, issues)
  if (issues.length) throw invalid(byPosition(issues))
  return { file: path, policy: deepFreeze(policy), files, warnings: byPosition(warnings) }
}

/** Orders "file:line:col …" issues as they appear in their files. */
function byPosition(issues: string[]): string[] {
  const key = (i: string) => /^(.*?):(\d+):(\d+) /.exec(i)
  return issues
    .flatMap((i) => i.split('\n'))
    .sort((a, b) => {
      const [ka, kb] = [key(a), key(b)]
      if (!ka || !kb || ka[1] !== kb[1]) return 0
      return Number(ka[2]) - Number(kb[2]) || Number(ka[3]) - Number(kb[3])
    })
}

function invalid(issues: string[]): RelayError {
  const err = new RelayError('RELAY_ERR_CONFIG_INVALID', [issues.join('\n')])
  return Object.assign(err, { issues })
}

/** The list of issues carried by a RELAY_ERR_CONFIG_INVALID error. */
export function configIssues(err: unknown): string[] | null {
  return err instanceof RelayError && err.code === 'RELAY_ERR_CONFIG_INVALID'
    ? ((err as RelayError & { issues?: string[] }).issues ?? [err.message])
    : null
}

type PathKey = PropertyKey

function formatIssue(file: string, doc: Document, lines: LineCounter, issue: z.core.$ZodIssue): string {
  const path = issue.path
  if (issue.code === 'unrecognized_keys') {
    // issueText words one line per key, in the order of issue.keys.
    const texts = issue.message.split('\n')
    return issue.keys
      .map((k, i) => `${where(file, doc, lines, [...path, k], true)} ${keyName([...path, k])}: ${texts[i] ?? 'unknown key'}`)
      .join('\n')
  }
  // A missing key is reported at the key of the map that lacks it.
  const missing = issue.code === 'invalid_type' && issue.input === undefined && path.length > 0
  return `${missing ? where(file, doc, lines, path.slice(0, -1), true) : where(file, doc, lines, path, false)} ${keyName(path)}: ${issue.message}`
}

/** "instances.outbound.listeners[0].port" */
function keyName(path: readonly PathKey[]): string {
  return (
    path
      .map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`))
      .join('') || '(top level)'
  )
}

/** file:line:col of the deepest node on `path` that exists; the key itself when `atKey`. */
function where(file: string, doc: Document, lines: LineCounter, path: readonly PathKey[], atKey: boolean): string {
  for (let n = path.length; n >= 0; n--) {
    const offset = nodeOffset(doc, path.slice(0, n), atKey && n === path.length)
    if (offset !== null) {
      const pos = lines.linePos(offset)
      return `${file}:${pos.line}:${pos.col}`
    }
  }
  return `${file}:1:1`
}

function nodeOffset(doc: Document, path: readonly PathKey[], atKey: boolean): number | null {
  if (path.length === 0) return doc.contents?.range?.[0] ?? 0
  const parent = doc.getIn(path.slice(0, -1) as unknown[], true)
  const last = path[path.length - 1]
  if (isMap(parent)) {
    const pair = parent.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === last)
    if (!pair) return null
    const target = atKey ? pair.key : (pair.value ?? pair.key)
    return (target as Node | null)?.range?.[0] ?? null
  }
  const node = doc.getIn(path as unknown[], true) as Node | undefined
  return node?.range?.[0] ?? null
}

/** Relative file names in the policy are relative to the policy file's folder. */
function resolvePaths(policy: Policy, base: string): void {
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(base, p))
  for (const inst of Object.values(policy.instances)) {
    if (!inst) continue
    for (const l of inst.listeners) {
      if (l.cert) l.cert = abs(l.cert)
      if (l.key) l.key = abs(l.key)
    }
    if (inst.relay.credentials) inst.relay.credentials = abs(inst.relay.credentials)
    for (const d of Object.values(inst.local.domains)) {
      if (d.valid_file) d.valid_file = abs(d.valid_file)
      if (d.invalid_file) d.invalid_file = abs(d.invalid_file)
    }
    for (const hop of inst.next_hops) if (hop.auth) hop.auth.password_file = abs(hop.auth.password_file)
    for (const list of inst.classes.networks) if (list.file) list.file = abs(list.file)
    inst.scan.rules = abs(inst.scan.rules)
    if (inst.quarantine) inst.quarantine.dir = abs(inst.quarantine.dir)
  }
  if (policy.admin.token_file) policy.admin.token_file = abs(policy.admin.token_file)
  if (policy.pid_file) policy.pid_file = abs(policy.pid_file)
  if (policy.stats.snapshot_dir) policy.stats.snapshot_dir = abs(policy.stats.snapshot_dir)
  if (policy.state.redis?.password_file) policy.state.redis.password_file = abs(policy.state.redis.password_file)
}

/** Reads every file the policy names, reporting a missing or malformed one at its key. */
async function readNamedFiles(
  file: string,
  doc: Document,
  lines: LineCounter,
  policy: Policy,
  running: readonly InstanceName[],
  issues: string[],
  warnings: string[],
): Promise<Map<string, string>> {
  // `optional`: a file that may not exist yet (serve creates the token file; no users yet).
  const wanted: { path: readonly PathKey[]; name: string; parse?: (text: string) => string[]; optional?: boolean; secret?: true }[] = []
  for (const name of running) {
    const inst = policy.instances[name]
    if (!inst) continue
    const at = ['instances', name] as const
    inst.listeners.forEach((l, i) => {
      if (l.cert) wanted.push({ path: [...at, 'listeners', i, 'cert'], name: l.cert })
      if (l.key) wanted.push({ path: [...at, 'listeners', i, 'key'], name: l.key, secret: true })
    })
    const creds = inst.relay.credentials
    if (creds) {
      wanted.push({ path: [...at, 'relay', 'credentials'], name: creds, parse: (t) => parseCredentials(creds, t).issues, optional: true, secret: true })
    }
    for (const [domain, d] of Object.entries(inst.local.domains)) {
      if (d.valid_file) wanted.push({ path: [...at, 'local', 'domains', domain, 'valid_file'], name: d.valid_file })
      if (d.invalid_file) wanted.push({ path: [...at, 'local', 'domains', domain, 'invalid_file'], name: d.invalid_file })
    }
    inst.next_hops.forEach((h, i) => {
      if (h.auth) wanted.push({ path: [...at, 'next_hops', i, 'auth', 'password_file'], name: h.auth.password_file, secret: true })
    })
    inst.classes.networks.forEach((n, i) => {
      const list = n.file
      if (list) wanted.push({ path: [...at, 'classes', 'networks', i, 'file'], name: list, parse: (t) => parseNetworkFile(list, t).issues })
    })
  }
  if (policy.admin.token_file) wanted.push({ path: ['admin', 'token_file'], name: policy.admin.token_file, optional: true, secret: true })
  const redisPassword = policy.state.redis?.password_file
  if (redisPassword) wanted.push({ path: ['state', 'redis', 'password_file'], name: redisPassword, secret: true })
  const files = new Map<string, string>()
  await Promise.all(
    wanted.map(async (w) => {
      try {
        const text = files.get(w.name) ?? (await readFile(w.name, 'utf8'))
        files.set(w.name, text)
        for (const problem of w.parse?.(text) ?? []) issues.push(problem)
        const loose = w.secret ? looseMode((await stat(w.name)).mode) : null
        if (loose) warnings.push(`${where(file, doc, lines, w.path, false)} ${keyName(w.path)}: warning: ${w.name} ${loose}; chmod 600 (or 640 for a service group) it`)
      } catch (err) {
        const missing = (err as NodeJS.ErrnoException).code === 'ENOENT'
        if (missing && w.optional) return
        const reason = missing ? 'no such file' : (err as Error).message
        issues.push(`${where(file, doc, lines, w.path, false)} ${keyName(w.path)}: cannot read ${w.name}: ${reason}`)
      }
    }),
  )
  return files
}

/**
 * What is wrong with a secret file's mode: readable or writable by anyone, or writable by its
 * group (then others can read or replace the password, token or key); null when it is safe.
 */
function looseMode(mode: number): string | null {
  const octal = `mode ${(mode & 0o777).toString(8).padStart(4, '0')}`
  if (mode & 0o006) return `is ${mode & 0o004 ? 'readable' : ''}${(mode & 0o006) === 0o006 ? ' and ' : ''}${mode & 0o002 ? 'writable' : ''} by anyone (${octal})`
  if (mode & 0o020) return `is writable by its group (${octal})`
  return null
}

/** A certificate and key that TLS cannot use are a configuration error, not a crash at start. */
function checkCertificates(
  file: string,
  doc: Document,
  lines: LineCounter,
  policy: Policy,
  running: readonly InstanceName[],
  files: ReadonlyMap<string, string>,
  issues: string[],
): void {
  for (const name of running) {
    policy.instances[name]?.listeners.forEach((l, i) => {
      if (!l.cert || !l.key) return
      try {
        createSecureContext({ cert: files.get(l.cert), key: files.get(l.key) })
      } catch (err) {
        const at = ['instances', name, 'listeners', i, 'cert']
        issues.push(`${where(file, doc, lines, at, false)} ${keyName(at)}: cannot use ${l.cert} with ${l.key}: ${(err as Error).message}`)
      }
    })
  }
}
