import { createHash } from 'node:crypto'
import { Budget, LimitReached } from './budget.js'
import type { CompiledRules, EngineMatch } from './engine.js'
import type { Expansion } from './expansion.js'
import { expandGzip, expandTar } from './gzip-tar.js'
import { headerBlock } from './header-fields.js'
import { parseMime } from './mime.js'
import { PasswordCandidates } from './passwords.js'
import { sniff } from './sniff.js'
import type { MessageExternals, ObjectKind, RuleHit, RuleMeta, ScanLimits, ScanObject, ScanReport } from './types.js'
import { expandZip } from './zip.js'

/** What one explosion runs with. */
export interface ExplodeContext {
  rules: CompiledRules
  engine: string
  rulesId: string
  externals: MessageExternals
  limits: ScanLimits
}

/** An object waiting to be examined; `id` is set once it is. */
interface Pending {
  kind: ObjectKind
  data: Buffer
  parent: Pending | null
  depth: number
  declaredType: string | null
  filename: string | null
  locked?: boolean
  /** Set when examined: how the object explodes further. */
  container?: 'zip' | 'gzip' | 'tar' | null
  id?: number
}

/** Sets a flag on an object and, the first time it is seen, on the report. */
type Flagger = (obj: ScanObject, name: string, detail: string) => void

const TEXT_TYPES = new Set(['text/plain', 'text/html'])
const MESSAGE_TYPES = new Set(['message/rfc822', 'message/global'])

/**
 * Explodes a message the way Laika BOSS does: every object (the message, its MIME parts,
 * decoded attachments, archive members, nested messages) is examined — sha256, sniffed type,
 * YARA-X rules with its externals — and then split into its own children, breadth first,
 * until nothing is left or a limit is reached. Limits set flags and stop the explosion; they
 * never throw. The caller runs this in a scanner thread.
 */
export async function explode(raw: Buffer, ctx: ExplodeContext, started = Date.now()): Promise<ScanReport> {
  const budget = new Budget(ctx.limits, started)
  const report: ScanReport = { objects: [], flags: [], hits: [], bytes: 0, ms: 0, complete: true, engine: ctx.engine, rules: ctx.rulesId }
  const hits = new Map<string, RuleHit>()
  const passwords = new PasswordCandidates()
  const flag: Flagger = (obj, name, detail) => {
    obj.flags.push({ flag: name, detail })
    if (!report.flags.some((f) => f.flag === name)) report.flags.push({ flag: name, detail, object: obj.id })
  }
  const queue: Pending[] = [{ kind: 'message', data: raw, parent: null, depth: 0, declaredType: 'message/rfc822', filename: null }]
  let current: ScanObject | null = null
  try {
    for (let item = queue.shift(); item; item = queue.shift()) {
      budget.takeObject()
      const obj = await examine(item, report.objects.length, ctx, hits, flag)
      current = obj
      item.id = obj.id
      report.objects.push(obj)
      const children = await expand(item, obj, budget, queue.length, passwords)
      for (const f of children.flags) flag(obj, f.flag, f.detail)
      let tooDeep = 0
      for (const child of children.items) {
        if (child.depth > ctx.limits.depth) tooDeep++
        else queue.push(child)
      }
      if (tooDeep) {
        report.complete = false
        flag(obj, 'scan_limit', `depth: ${tooDeep} object(s) below level ${ctx.limits.depth} not scanned`)
      }
    }
  } catch (err) {
    if (!(err instanceof LimitReached)) throw err
    report.complete = false
    const at = current ?? report.objects[0]
    const detail = `${err.limit}: limit of ${limitValue(ctx.limits, err.limit)} reached, ${queue.length} object(s) left unscanned`
    if (at) flag(at, 'scan_limit', detail)
    else report.flags.push({ flag: 'scan_limit', detail, object: 0 })
  }
  report.hits = [...hits.values()]
  report.bytes = budget.bytes
  report.ms = Date.now() - started
  return report
}

function limitValue(limits: ScanLimits, limit: LimitReached['limit']): string {
  if (limit === 'objects') return `${limits.objects} objects`
  if (limit === 'total_bytes') return `${limits.totalBytes} bytes`
  return `${limits.timeMs} ms`
}

/** Hashes, sniffs and scans one object with the rules. */
async function examine(item: Pending, id: number, ctx: ExplodeContext, hits: Map<string, RuleHit>, flag: Flagger): Promise<ScanObject> {
  // A message or multipart is what its container says; their content is sniffed part by part.
  const sniffed = item.data.length && item.kind !== 'message' ? await sniff(item.data) : { type: null, container: null }
  item.container = sniffed.container
  const obj: ScanObject = {
    id,
    parent: item.parent?.id ?? null,
    depth: item.depth,
    kind: item.kind,
    declaredType: item.declaredType,
    sniffedType: sniffed.type,
    filename: item.filename,
    size: item.data.length,
    sha256: item.kind === 'multipart' ? '' : createHash('sha256').update(item.data).digest('hex'),
    flags: [],
    hits: [],
  }
  if (item.kind === 'multipart') return obj
  let matches: EngineMatch[]
  try {
    // A message is matched on its header; its body is matched part by part, decoded.
    matches = ctx.rules.scan(item.kind === 'message' ? headerBlock(item.data) : item.data, {
      filename: item.filename ?? '',
      declared_type: item.declaredType ?? '',
      sniffed_type: sniffed.type ?? '',
      ...ctx.externals,
    })
  } catch (err) {
    // The wasm engine stops a scan at its timeout; the object is then left unjudged.
    flag(obj, 'scan_limit', `rules: ${(err as Error).message}`)
    return obj
  }
  for (const m of matches) {
    obj.hits.push(m.rule)
    const hit = hits.get(m.rule) ?? { rule: m.rule, ...ruleMeta(m), objects: [] }
    hit.objects.push(id)
    hits.set(m.rule, hit)
    for (const f of hit.flags) flag(obj, f, `rule ${m.rule}`)
  }
  return obj
}

/** Reads a rule's metadata; a rule without it tags with score 0 and its name as description. */
function ruleMeta(m: EngineMatch): RuleMeta {
  const action = m.meta.action
  return {
    score: typeof m.meta.score === 'number' ? m.meta.score : Number(m.meta.score ?? 0) || 0,
    action: action === 'reject' || action === 'quarantine' ? action : 'tag',
    description: typeof m.meta.description === 'string' && m.meta.description ? m.meta.description : m.rule,
    flags: typeof m.meta.flags === 'string' ? m.meta.flags.split(/[\s,]+/).filter(Boolean) : [],
  }
}

/** The children of an object: MIME parts of a message, members of an archive. */
async function expand(
  item: Pending,
  obj: ScanObject,
  budget: Budget,
  pending: number,
  passwords: PasswordCandidates,
): Promise<{ items: Pending[]; flags: Expansion['flags'] }> {
  if (item.kind === 'message') {
    const mime = await parseMime(item.data, budget)
    const flags = mime.problems.length
      ? [{ flag: 'malformed_mime' as const, detail: mime.problems.slice(0, 3).join('; ') }]
      : []
    const made: Pending[] = []
    for (const part of mime.parts) {
      const parent = part.parent === null ? item : (made[part.parent] ?? item)
      const message = !part.multipart && MESSAGE_TYPES.has(part.declaredType)
      made.push({
        kind: part.multipart ? 'multipart' : message ? 'message' : 'part',
        data: part.body,
        parent,
        depth: item.depth + 1 + part.level,
        declaredType: part.declaredType,
        filename: part.filename,
      })
      if (!part.multipart && TEXT_TYPES.has(part.declaredType) && !part.filename) {
        passwords.addText(part.body, part.declaredType === 'text/html')
      }
    }
    return { items: made, flags }
  }
  if (item.locked || item.kind === 'multipart' || item.data.length === 0) return { items: [], flags: [] }
  const name = item.filename ?? `object ${obj.id}`
  const container = item.container
  let expansion: Expansion | null = null
  if (container === 'zip') expansion = await expandZip(item.data, name, budget, pending, () => passwords.list())
  else if (container === 'gzip') expansion = await expandGzip(item.data, name, budget)
  else if (container === 'tar') expansion = await expandTar(item.data, name, budget, pending)
  if (!expansion) return { items: [], flags: [] }
  const kind: ObjectKind = container === 'gzip' ? 'decompressed' : 'member'
  const items = expansion.members.map((m): Pending => ({
    kind: m.filename && /\.eml$/i.test(m.filename) ? 'message' : kind,
    data: m.data,
    parent: item,
    depth: item.depth + 1,
    declaredType: null,
    filename: m.filename,
    locked: m.locked ?? false,
  }))
  return { items, flags: expansion.flags }
}
