// Rewrites the configuration reference in README.md from `smarthost-guard explain-config`.
// Run with `npm run docs`; test/unit/readme.test.ts fails when the two differ.
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { explainPolicy } from '../../src/cli/explain-config.js'

export const README = fileURLToPath(new URL('../../README.md', import.meta.url))
const START = '<!-- explain-config:start -->'
const END = '<!-- explain-config:end -->'

/** README text with the reference section replaced by `reference`. */
export function withReference(readme: string, reference: string): string {
  const a = readme.indexOf(START)
  const b = readme.indexOf(END)
  if (a < 0 || b < a) throw new Error(`README.md lacks the ${START} … ${END} markers`)
  return `${readme.slice(0, a + START.length)}\n\`\`\`text\n${reference.trimEnd()}\n\`\`\`\n${readme.slice(b)}`
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(README, withReference(readFileSync(README, 'utf8'), explainPolicy()))
}
