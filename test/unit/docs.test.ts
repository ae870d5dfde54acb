import assert from 'node:assert/strict'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { describe, it } from 'node:test'
import { COMMANDS } from '../../src/cli/commands.js'
import { explainPolicy } from '../../src/cli/explain-config.js'
import { RELAY_ERRORS } from '../../src/errors/relay-error.js'
import { defaultMetricsPrefix, definedMetrics, exportedNames } from '../helpers/metric-names.js'
import { CONFIGURATION, DOCS, README, ROOT, configurationPage, docsPages } from '../helpers/update-docs.js'

// The README and docs/ are what a new postmaster trusts: these tests fail when they drift from
// the code (a renamed metric, a removed command, a moved heading, a new policy key).

const README_MAX_LINES = 300
const METRIC_NAME = /\bsmarthost_[a-zA-Z0-9_]*/g
// `smarthost-guard CMD` where a shell would run it: at the start of a line, after npx, `--` or a
// path (`runuser -u u -- smarthost-guard …`, `/usr/local/bin/smarthost-guard …`).
const COMMAND_LINE = /(?:^\s*|\bnpx\s+|--\s+|\/)smarthost-guard ([a-z][a-z-]*)\b/gm

const read = (file: string) => readFileSync(file, 'utf8')
const BENCH_README = join(ROOT, 'test', 'bench', 'README.md')
const allDocs = () => [README, ...docsPages().map((f) => join(DOCS, f)), BENCH_README]
const shown = (file: string) => relative(ROOT, file)

const FENCED = /^(```|~~~)[^\n]*\n([\s\S]*?)^\1[^\n]*$/gm

/** Markdown without fenced code blocks and inline code spans: where links live. */
function prose(markdown: string): string {
  return markdown.replace(FENCED, '').replace(/`[^`\n]*`/g, '')
}

/** The code of a page: fenced blocks and inline code spans. */
function code(markdown: string): string[] {
  const blocks = [...markdown.matchAll(FENCED)].map((m) => m[2] ?? '')
  const inline = [...markdown.replace(FENCED, '').matchAll(/`([^`\n]+)`/g)].map((m) => m[1] ?? '')
  return [...blocks, ...inline]
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/`/g, '')
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-')
}

/** The anchors of a Markdown file's headings, with GitHub's -1, -2 for repeated ones. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>()
  const out = new Set<string>()
  const withoutCode = markdown.replace(FENCED, '')
  for (const [, text = ''] of withoutCode.matchAll(/^#{1,6}\s+(.+?)\s*#*$/gm)) {
    const base = slug(text)
    const n = seen.get(base) ?? 0
    seen.set(base, n + 1)
    out.add(n === 0 ? base : `${base}-${n}`)
  }
  return out
}

/** Relative link targets of a Markdown file: `[text](target)`, outside code. */
function relativeLinks(markdown: string): string[] {
  return [...prose(markdown).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)]
    .map((m) => m[1] ?? '')
    .filter((t) => !/^[a-z][a-z0-9+.-]*:/i.test(t))
}

describe('docs/', () => {
  it('holds the configuration reference exactly as explain-config prints it (npm run docs updates it)', () => {
    assert.equal(read(CONFIGURATION), configurationPage(explainPolicy()))
  })

  it('has a short README whose table of contents links every page of docs/', () => {
    const readme = read(README)
    const lines = readme.split('\n').length
    assert.ok(lines <= README_MAX_LINES, `README.md has ${lines} lines (at most ${README_MAX_LINES})`)
    const linked = new Set(relativeLinks(readme).map((t) => t.split('#')[0]))
    const pages = docsPages()
    assert.ok(pages.length > 0)
    assert.deepEqual(
      pages.filter((p) => !linked.has(`docs/${p}`)),
      [],
      'docs pages the README does not link',
    )
  })

  it('has relative links that all resolve, to a file and to a heading of it', () => {
    const broken: string[] = []
    for (const file of allDocs()) {
      for (const target of relativeLinks(read(file))) {
        const [path = '', anchor] = target.split('#')
        const to = path === '' ? file : resolve(dirname(file), decodeURIComponent(path))
        if (!existsSync(to)) {
          broken.push(`${shown(file)}: ${target} (no such file)`)
          continue
        }
        if (anchor !== undefined && statSync(to).isFile() && to.endsWith('.md') && !anchors(read(to)).has(anchor)) {
          broken.push(`${shown(file)}: ${target} (no such heading in ${shown(to)})`)
        }
      }
    }
    assert.deepEqual(broken, [])
  })

  it('names only metrics the relay exports, and docs/metrics.md names every one of them', async () => {
    const exported = await exportedNames()
    const unknown: string[] = []
    for (const file of allDocs()) {
      for (const name of read(file).match(METRIC_NAME) ?? []) {
        // `smarthost_process_*` stands for prom-client's default metrics.
        const known = name.endsWith('_') ? [...exported].some((n) => n.startsWith(name)) : exported.has(name)
        if (!known) unknown.push(`${shown(file)}: ${name}`)
      }
    }
    assert.deepEqual([...new Set(unknown)], [], 'metric names the relay does not export')

    const page = read(join(DOCS, 'metrics.md'))
    const documented = new Set(page.match(METRIC_NAME) ?? [])
    const missing = definedMetrics()
      .map((m) => m.name)
      .filter((n) => !documented.has(n))
    assert.deepEqual(missing, [], 'metrics defined in src/metrics that docs/metrics.md does not list')
    const prefix = defaultMetricsPrefix()
    if (prefix !== undefined) assert.ok(page.includes(`${prefix}*`), `docs/metrics.md lists ${prefix}*`)
  })

  it('names only real commands, and docs/commands.md documents every command', () => {
    const real = new Set(COMMANDS.map((c) => c.name))
    const unknown: string[] = []
    for (const file of allDocs()) {
      for (const snippet of code(read(file))) {
        for (const [, name = ''] of snippet.matchAll(COMMAND_LINE)) {
          if (!real.has(name)) unknown.push(`${shown(file)}: smarthost-guard ${name}`)
        }
      }
    }
    assert.deepEqual([...new Set(unknown)], [], 'commands src/cli/commands.ts does not have')
    const page = read(join(DOCS, 'commands.md'))
    assert.deepEqual(
      [...real].filter((name) => !page.includes(`smarthost-guard ${name}`)),
      [],
      'commands docs/commands.md does not document',
    )
  })

  it('documents every internal error code of the catalog in docs/errors.md, and no other', () => {
    const page = read(join(DOCS, 'errors.md'))
    const rows = new Set([...page.matchAll(/^\| `(RELAY_ERR_[A-Z_]+)` \|/gm)].map((m) => m[1]))
    const catalog = Object.keys(RELAY_ERRORS)
    assert.deepEqual(catalog.filter((c) => !rows.has(c)), [], 'codes docs/errors.md lacks')
    assert.deepEqual([...rows].filter((c) => c !== undefined && !catalog.includes(c)), [], 'codes the catalog lacks')
  })

  it('lists every reason token of src/errors/replies.ts in docs/replies.md, for the reply_url page', () => {
    // The last argument of a reply helper's SmtpReply: `…, 'relay-denied')`.
    const source = read(join(ROOT, 'src', 'errors', 'replies.ts'))
    const reasons = [...new Set([...source.matchAll(/,\s*'([a-z][a-z0-9-]*)',?\s*\)/g)].map((m) => m[1] ?? ''))]
    assert.ok(reasons.length > 20, `found only ${reasons.length} reasons in replies.ts`)
    const page = read(join(DOCS, 'replies.md'))
    assert.deepEqual(reasons.filter((r) => !page.includes(`\`${r}\``)), [], 'reasons docs/replies.md does not list')
  })
})
