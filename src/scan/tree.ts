import type { ScanObject, ScanReport } from './types.js'

// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/g
// eslint-disable-next-line no-control-regex
const CONTROL_BUT_LINES = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g

/**
 * Text from a message, fit for a terminal: control characters (escape sequences) become "?".
 * With `keepNewlines`, line breaks and tabs stay, so a header block reads as it was written.
 */
export function printable(text: string, options: { keepNewlines?: boolean } = {}): string {
  return text.replace(options.keepNewlines ? CONTROL_BUT_LINES : CONTROL, '?')
}

/** One line per object, indented as the explosion tree (Laika BOSS's standalone scanner output). */
export function renderTree(report: ScanReport): string[] {
  const children = new Map<number | null, ScanObject[]>()
  for (const o of report.objects) children.set(o.parent, [...(children.get(o.parent) ?? []), o])
  const out: string[] = []
  const walk = (parent: number | null, prefix: string) => {
    const list = children.get(parent) ?? []
    list.forEach((o, i) => {
      const last = i === list.length - 1
      const branch = parent === null ? '' : last ? '└─ ' : '├─ '
      out.push(`${prefix}${branch}${printable(describe(o))}`)
      walk(o.id, parent === null ? '' : `${prefix}${last ? '   ' : '│  '}`)
    })
  }
  walk(null, '')
  return out
}

function describe(o: ScanObject): string {
  const types =
    o.declaredType && o.sniffedType && o.declaredType !== o.sniffedType
      ? `${o.declaredType} (sniffed ${o.sniffedType})`
      : (o.declaredType ?? o.sniffedType ?? 'unknown type')
  const parts = [`#${o.id} ${o.kind}`, types]
  if (o.filename) parts.push(JSON.stringify(o.filename))
  if (o.kind !== 'multipart') parts.push(`${o.size} B`, `sha256 ${o.sha256.slice(0, 16)}…`)
  if (o.hits.length) parts.push(`hits: ${o.hits.join(', ')}`)
  if (o.flags.length) parts.push(`flags: ${[...new Set(o.flags.map((f) => f.flag))].join(', ')}`)
  return parts.join('  ')
}

/** The message-level flags and rule hits, one line each. */
export function renderFindings(report: ScanReport): string[] {
  const out: string[] = []
  out.push(report.flags.length ? 'flags:' : 'flags: none')
  for (const f of report.flags) out.push(printable(`  ${f.flag} (#${f.object}: ${f.detail})`))
  out.push(report.hits.length ? 'rule hits:' : 'rule hits: none')
  for (const h of report.hits) {
    out.push(`  ${h.rule}: score ${h.score}, ${h.action}: ${h.description} (object${h.objects.length > 1 ? 's' : ''} #${h.objects.join(', #')})`)
  }
  return out
}
