import { createRequire } from 'node:module'
import type * as Litko from '@litko/yara-x'
import type { CompiledRules, EngineMatch, RuleExternals, YaraEngine } from './engine.js'
import { NO_EXTERNALS, parseProblem } from './engine.js'

/**
 * YARA-X through its N-API binding (@litko/yara-x): a scan costs microseconds. The binary ships
 * per platform as an optional dependency, so loading it can fail; `engine: auto` then uses wasm.
 * It has no per-scan timeout: the scanner thread's hard time limit covers it.
 */
export function nativeEngine(): YaraEngine {
  // Required lazily: on a platform without the binary the require throws, and only here.
  const yarax = createRequire(import.meta.url)('@litko/yara-x') as typeof Litko
  const options = { defineVariables: { ...NO_EXTERNALS } }
  return {
    kind: 'native',
    validate(source) {
      return yarax.validate(source, options).errors.map((e) => parseProblem(e.message))
    },
    compile(source): CompiledRules {
      // The binding declares its return type as YaraXImpl without defining it; it is the YaraX class.
      const rules = yarax.compile(source, options) as unknown as Litko.YaraX
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
