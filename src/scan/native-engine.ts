import { createRequire } from 'node:module'
import type { CompiledRules, EngineMatch, RuleExternals, YaraEngine } from './engine.js'
import { NO_EXTERNALS, parseProblem } from './engine.js'

// The part of the N-API binding's API the engine uses (node-yara-x's index.d.ts).
interface CompilerOptions {
  defineVariables?: Record<string, string | number | boolean>
}
interface NativeRules {
  scan(data: Buffer, variables?: RuleExternals): { ruleIdentifier: string; namespace: string; tags: string[]; meta: object }[]
}
interface NativeBinding {
  validate(source: string, options?: CompilerOptions): { errors: { message: string }[] }
  compile(source: string, options?: CompilerOptions): NativeRules
}

/** The binding's binary for this platform; the only one published is Linux x64 (glibc). */
const BINARY = '@litko/yara-x-linux-x64-gnu'

/**
 * YARA-X through its N-API binding (node-yara-x): a scan costs microseconds. The binary is an
 * optional dependency for Linux x64, loaded directly (the package's own loader also asks for
 * macOS builds that the registry lacks); elsewhere loading fails and `engine: auto` uses wasm.
 * It has no per-scan timeout: the scanner thread's hard time limit covers it.
 */
export function nativeEngine(): YaraEngine {
  // Required lazily: on a platform without the binary the require throws, and only here.
  const yarax = createRequire(import.meta.url)(BINARY) as NativeBinding
  const options: CompilerOptions = { defineVariables: { ...NO_EXTERNALS } }
  return {
    kind: 'native',
    validate(source) {
      return yarax.validate(source, options).errors.map((e) => parseProblem(e.message))
    },
    compile(source): CompiledRules {
      const rules = yarax.compile(source, options)
      return {
        scan(data: Uint8Array, externals: RuleExternals): EngineMatch[] {
          const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength)
          return rules.scan(buf, externals).map((m) => ({
            rule: m.ruleIdentifier,
            namespace: m.namespace,
            tags: m.tags,
            meta: m.meta as EngineMatch['meta'],
          }))
        },
        dispose() {
          // Freed by the garbage collector with the object.
        },
      }
    },
  }
}
