// The YARA-X engine behind a small interface, so the N-API binding and the WebAssembly build
// are interchangeable (the benchmark compares them; the README has the figures).

/** Externals every rule may use; all strings, empty when unknown. */
export const RULE_EXTERNALS = ['filename', 'declared_type', 'sniffed_type', 'client_class', 'sender_domain'] as const
export type RuleExternals = Record<(typeof RULE_EXTERNALS)[number], string>

/** The engines there are; `auto` picks native when its binary loads on this platform. */
export type EngineKind = 'native' | 'wasm'

/** A compile error, with the line and column in the source given to the compiler. */
export interface CompileProblem {
  message: string
  line: number | null
  column: number | null
}

/** A rule that matched, with its metadata as written. */
export interface EngineMatch {
  rule: string
  namespace: string
  tags: string[]
  meta: Record<string, string | number | boolean>
}

/** Compiled rules, ready to scan. */
export interface CompiledRules {
  scan(data: Uint8Array, externals: RuleExternals): EngineMatch[]
  dispose(): void
}

/** One YARA-X implementation. */
export interface YaraEngine {
  readonly kind: EngineKind
  /** Every compile error of `source`; empty when it compiles. */
  validate(source: string): CompileProblem[]
  /** Compiles `source`; `timeoutMs` bounds each scan where the engine supports it. */
  compile(source: string, timeoutMs: number): CompiledRules
}

/** Empty values for every external: what a rule sees for an unknown filename or type. */
export const NO_EXTERNALS: RuleExternals = Object.freeze({
  filename: '',
  declared_type: '',
  sniffed_type: '',
  client_class: '',
  sender_domain: '',
})

const LOCATION = /-->\s*line:(\d+):(\d+)/

/** Splits a YARA-X diagnostic ("error[E009]: … --> line:4:2 …") into text and position. */
export function parseProblem(text: string): CompileProblem {
  const m = LOCATION.exec(text)
  const first = text.split('\n')[0] ?? text
  const message = first.replace(/^Compilation error \(\w+\):\s*/, '').replace(/^error\[\w+\]:\s*/, '')
  // The caret line says what the compiler expected; it is the useful part of a syntax error.
  const caret = /\^+\s+(.+)$/m.exec(text)?.[1]
  return {
    message: caret && !message.includes(caret) ? `${message}: ${caret}` : message,
    line: m ? Number(m[1]) : null,
    column: m ? Number(m[2]) : null,
  }
}

const engines = new Map<EngineKind, Promise<YaraEngine>>()

/** Loads an engine once per thread; `auto` falls back to wasm when the native binary is missing. */
export async function loadEngine(kind: EngineKind | 'auto'): Promise<YaraEngine> {
  if (kind === 'auto') {
    try {
      return await loadEngine('native')
    } catch {
      return loadEngine('wasm')
    }
  }
  let engine = engines.get(kind)
  if (!engine) {
    engine = kind === 'native' ? import('./native-engine.js').then((m) => m.nativeEngine()) : import('./wasm-engine.js').then((m) => m.wasmEngine())
    engines.set(kind, engine)
    engine.catch(() => engines.delete(kind))
  }
  return engine
}
