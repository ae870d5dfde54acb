import { createHash } from 'node:crypto'
import { readFile, readdir } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { EngineKind } from './engine.js'
import { loadEngine } from './engine.js'

/** One rule file as read from the rules folder. */
export interface RuleFile {
  path: string
  text: string
}

/**
 * The rules of an instance: every `*.yar` of its rules folder in name order, compiled as one
 * source so that rule names are unique across files. Identified by a hash of engine and text,
 * so scanner threads compile a rule set once and a reload with unchanged rules costs nothing.
 */
export interface RuleSet {
  readonly id: string
  /** The configured engine; a scanner thread resolves `auto` as checkRules did. */
  readonly engine: EngineKind | 'auto'
  readonly source: string
  readonly files: readonly { path: string; firstLine: number; lines: number }[]
}

/** The extension of rule files in the rules folder. */
const RULE_EXT = '.yar'

/** Joins rule files into one source, remembering where each starts. */
export function buildRuleSet(files: readonly RuleFile[], engine: EngineKind | 'auto'): RuleSet {
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  let line = 1
  const parts = sorted.map((f) => {
    const text = f.text.endsWith('\n') ? f.text : `${f.text}\n`
    const lines = text.split('\n').length - 1
    const part = { path: f.path, firstLine: line, lines }
    line += lines
    return { part, text }
  })
  const source = parts.map((p) => p.text).join('')
  const id = createHash('sha256').update(engine).update('\0').update(source).digest('hex').slice(0, 16)
  return { id, engine, source, files: parts.map((p) => p.part) }
}

/** The file and line within it of a line of the joined source. */
function locate(set: RuleSet, line: number): { path: string; line: number } | null {
  const file = set.files.find((f) => line >= f.firstLine && line < f.firstLine + f.lines)
  return file ? { path: file.path, line: line - file.firstLine + 1 } : null
}

/** Reads every rule file of a folder; throws when the folder cannot be read. */
export async function readRuleDir(dir: string): Promise<RuleFile[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith(RULE_EXT)).sort()
  return Promise.all(names.map(async (n) => ({ path: join(dir, n), text: await readFile(join(dir, n), 'utf8') })))
}

/** The rule files of `dir` among the files a loaded policy read. */
export function ruleFilesIn(dir: string, files: ReadonlyMap<string, string>): RuleFile[] {
  return [...files]
    .filter(([path]) => path.endsWith(RULE_EXT) && dirname(path) === dir)
    .map(([path, text]) => ({ path, text }))
}

/**
 * Compiles rule files with the chosen engine and says what is wrong, each problem as
 * `FILE:LINE:COL: message`. Resolves `auto` to the engine that loaded.
 */
export async function checkRules(
  files: readonly RuleFile[],
  engine: EngineKind | 'auto',
): Promise<{ engine: EngineKind | null; problems: string[] }> {
  let yara
  try {
    yara = await loadEngine(engine)
  } catch (err) {
    return { engine: null, problems: [`the ${engine} YARA-X engine cannot be loaded: ${(err as Error).message.split('\n')[0]}`] }
  }
  if (files.length === 0) return { engine: yara.kind, problems: ['no *.yar rule files in the folder'] }
  const set = buildRuleSet(files, yara.kind)
  const problems = yara.validate(set.source).map((p) => {
    const at = p.line === null ? null : locate(set, p.line)
    return at ? `${at.path}:${at.line}:${p.column ?? 1}: ${p.message}` : p.message
  })
  return { engine: yara.kind, problems }
}
