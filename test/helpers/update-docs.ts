// Writes docs/configuration.md from `smarthost-guard explain-config`, and reads the docs for the
// tests that keep them true (test/unit/docs.test.ts). Run with `npm run docs`.
import { readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { explainPolicy } from '../../src/cli/explain-config.js'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const README = join(ROOT, 'README.md')
export const DOCS = join(ROOT, 'docs')
export const CONFIGURATION = join(DOCS, 'configuration.md')

/** docs/configuration.md for this reference text, as explain-config prints it. */
export function configurationPage(reference: string): string {
  return `# Configuration reference

Every key of the policy tree with its type, default and meaning, then every check with its
options. Generated from the schema the relay validates with: \`npx smarthost-guard explain-config\`
prints the same text, and \`npm run docs\` rewrites this page (a test fails when they differ).
Validate a tree with \`npx smarthost-guard check-config --config FILE\`.

\`\`\`text
${reference.trimEnd()}
\`\`\`
`
}

/** The docs pages, file names relative to docs/, sorted. */
export function docsPages(): string[] {
  return readdirSync(DOCS)
    .filter((f) => f.endsWith('.md'))
    .sort()
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(CONFIGURATION, configurationPage(explainPolicy()))
  process.stdout.write(`wrote ${CONFIGURATION}\n`)
}
