import type { CheckEntry } from '../config/check-entry.js'
import type { CheckDefinition, CheckDeps, CheckFn, CoreSource, Stage } from './types.js'
import { STAGES } from './types.js'

/** A check ready to run: its function plus how the runner treats it. */
export interface CompiledCheck {
  readonly id: string
  readonly stage: Stage
  readonly core: boolean
  readonly mode: 'enforce' | 'warn'
  readonly timeoutMs: number
  readonly onError: 'continue' | 'tempfail'
  /** Runs only when this says yes for the session's client class. */
  readonly appliesTo: (clientClass: string) => boolean
  readonly run: CheckFn
}

const always = () => true

/** The class filter of a listed check: `classes` (if given) minus `skip_classes`. */
function classFilter(entry: CheckEntry): (clientClass: string) => boolean {
  const only = entry.classes ? new Set(entry.classes) : null
  const skip = new Set(entry.skip_classes)
  if (!only && skip.size === 0) return always
  return (c) => (only === null || only.has(c)) && !skip.has(c)
}

/** The checks of each stage, in run order. */
export type Pipeline = Readonly<Record<Stage, readonly CompiledCheck[]>>

/** Time a core check may take; they are local computations and should take microseconds. */
const CORE_TIMEOUT_MS = 5000

/**
 * Builds the pipeline of one instance: its core checks first (in registry order), then the
 * policy's `checks:` in the order given. Runs once per loaded policy, not per message.
 */
export function compilePipeline(
  registry: readonly CheckDefinition[],
  source: CoreSource,
  entries: readonly CheckEntry[],
  deps: CheckDeps,
): Pipeline {
  const byStage = Object.fromEntries(STAGES.map((s) => [s, [] as CompiledCheck[]])) as Record<Stage, CompiledCheck[]>
  for (const def of registry) {
    const config = def.core?.(source)
    if (config === undefined) continue
    byStage[def.stage].push({
      id: def.id,
      stage: def.stage,
      core: true,
      mode: 'enforce',
      timeoutMs: CORE_TIMEOUT_MS,
      onError: 'tempfail',
      appliesTo: always,
      run: def.create(config, deps),
    })
  }
  for (const entry of entries) {
    const def = registry.find((d) => d.id === entry.check)
    if (!def) throw new Error(`unknown check ${entry.check}`)
    byStage[def.stage].push({
      id: def.id,
      stage: def.stage,
      core: false,
      mode: entry.mode,
      timeoutMs: entry.timeout,
      onError: entry.on_error,
      appliesTo: classFilter(entry),
      run: def.create(entry, deps),
    })
  }
  return byStage
}
