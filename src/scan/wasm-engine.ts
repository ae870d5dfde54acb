import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import type { CompiledRules, CompileProblem, EngineMatch, RuleExternals, YaraEngine } from './engine.js'
import { NO_EXTERNALS, RULE_EXTERNALS, parseProblem } from './engine.js'

interface WasmMatch {
  identifier: string
  namespace: string
  tags: string[]
  metadata: { identifier: string; value: string | number | boolean }[]
}

/**
 * YARA-X compiled to WebAssembly (@virustotal/yara-x): runs anywhere, with a per-scan timeout,
 * but every scan has a fixed cost of milliseconds (see the README's scanning benchmark).
 */
export async function wasmEngine(): Promise<YaraEngine> {
  const yarax = await import('@virustotal/yara-x')
  const pkg = createRequire(import.meta.url).resolve('@virustotal/yara-x/package.json')
  yarax.initSync({ module: readFileSync(join(dirname(pkg), 'pkg', 'yara_x_js_bg.wasm')) })

  const newCompiler = () => {
    const compiler = new yarax.Compiler()
    for (const name of RULE_EXTERNALS) compiler.defineGlobal(name, '')
    return compiler
  }
  return {
    kind: 'wasm',
    validate(source) {
      const compiler = newCompiler()
      try {
        compiler.addSource(source)
        return compiler.errors.map(parseProblem)
      } catch (err) {
        const problems: CompileProblem[] = compiler.errors.map(parseProblem)
        return problems.length ? problems : [parseProblem(String(err).replace(/^Error:\s*/, ''))]
      } finally {
        compiler.free()
      }
    },
    compile(source, timeoutMs): CompiledRules {
      const compiler = newCompiler()
      let rules
      try {
        compiler.addSource(source)
        rules = compiler.build()
      } finally {
        compiler.free()
      }
      const scanner = new yarax.Scanner(rules)
      scanner.setTimeoutMs(timeoutMs)
      return {
        scan(data: Uint8Array, externals: RuleExternals): EngineMatch[] {
          for (const name of RULE_EXTERNALS) scanner.setGlobal(name, externals[name] ?? NO_EXTERNALS[name])
          const result = scanner.scan(data) as { matches: WasmMatch[]; errors?: string[] }
          if (result.errors?.length) throw new Error(result.errors.join('; '))
          return result.matches.map((m) => ({
            rule: m.identifier,
            namespace: m.namespace,
            tags: m.tags,
            meta: Object.fromEntries(m.metadata.map((e) => [e.identifier, e.value])),
          }))
        },
        dispose() {
          scanner.free()
          rules.free()
        },
      }
    },
  }
}
