import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { parse, parseAllDocuments, stringify } from 'yaml'
import type { AdminServer } from '../../src/metrics/admin-server.js'
import { addStatsApi, statsTopQuery } from '../../src/stats/admin-api.js'
import { definedMetrics, exportedNames } from '../helpers/metric-names.js'

// The NOC's dashboards and alerts may only use metrics the relay exports: a renamed metric
// would otherwise leave an empty panel or an alert that can never fire. The abuse-desk
// dashboard reads the admin API instead, and may only ask it what it answers.

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const DASHBOARDS = join(ROOT, 'dashboards')
const RULES = join(DASHBOARDS, 'prometheus-rules.yaml')
const RULE_TESTS = join(DASHBOARDS, 'prometheus-rules.test.yaml')
const COMPOSE = join(ROOT, 'deploy', 'compose')
const INFINITY = 'yesoreyeram-infinity-datasource'

// Prometheus metric names may hold digits (smarthost_process_nodejs_eventloop_lag_p99_seconds).
const METRIC_NAME = /\bsmarthost_[a-zA-Z0-9_]+/g

type Json = Record<string, unknown>
const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)

/** The PromQL expressions of a dashboard: panel targets and query variables. */
function dashboardQueries(dashboard: unknown): string[] {
  const queries: string[] = []
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk)
    if (!isRecord(node)) return
    if (typeof node.expr === 'string') queries.push(node.expr)
    if (node.type === 'query') {
      if (typeof node.definition === 'string') queries.push(node.definition)
      if (typeof node.query === 'string') queries.push(node.query)
      if (isRecord(node.query) && typeof node.query.query === 'string') queries.push(node.query.query)
    }
    Object.values(node).forEach(walk)
  }
  walk(dashboard)
  return queries
}

function ruleExpressions(rules: unknown): { name: string; expr: string }[] {
  assert.ok(isRecord(rules) && Array.isArray(rules.groups), 'the rules file has no groups')
  return rules.groups.flatMap((group: unknown) => {
    assert.ok(isRecord(group) && Array.isArray(group.rules))
    return group.rules.map((rule: unknown) => {
      assert.ok(isRecord(rule) && typeof rule.expr === 'string', 'every rule has an expr')
      return { name: String(rule.alert ?? rule.record), expr: rule.expr }
    })
  })
}

const readDashboard = (file: string): unknown => JSON.parse(readFileSync(join(DASHBOARDS, file), 'utf8'))
const panelsOf = (d: unknown): Json[] => (isRecord(d) && Array.isArray(d.panels) ? d.panels.filter(isRecord).filter((p) => p.type !== 'row') : [])
/** Dashboards that read the admin API (through the Infinity data source) rather than Prometheus. */
const readsAdminApi = (file: string) => panelsOf(readDashboard(file)).some((p) => isRecord(p.datasource) && p.datasource.type === INFINITY)
const allDashboards = () => readdirSync(DASHBOARDS).filter((f) => f.endsWith('.json'))
const dashboardFiles = () => allDashboards().filter((f) => !readsAdminApi(f))
const unknownMetrics = (queries: string[], known: Set<string>) =>
  [...new Set(queries.flatMap((q) => q.match(METRIC_NAME) ?? []))].filter((n) => !known.has(n)).sort()

/** Every Prometheus rule file (a YAML document with `groups:`) under dashboards/ and deploy/. */
function ruleFiles(): string[] {
  return [DASHBOARDS, join(ROOT, 'deploy')]
    .flatMap((dir) => readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((f) => join(dir, f)))
    .filter((f) => /\.ya?ml$/.test(f))
    .filter((f) =>
      parseAllDocuments(readFileSync(f, 'utf8')).some((doc) => {
        const value: unknown = doc.toJS()
        return isRecord(value) && Array.isArray(value.groups)
      }),
    )
    .sort()
}

/** A metric name with its label matchers, if any: `smarthost_x{a="b"}` → [name, 'a="b"']. */
const SELECTOR = /\b(smarthost_[a-zA-Z0-9_]+)(?:\{([^}]*)\})?/g

/** Metrics defined with a relay_instance label (src/metrics), read from the registry they register in. */
async function relayInstanceMetrics(): Promise<Set<string>> {
  const dir = join(ROOT, 'src', 'metrics')
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) await import(join(dir, file))
  const { registry } = await import('../../src/metrics/registry.js')
  const names = new Set<string>()
  for (const { name } of definedMetrics()) {
    const metric = registry.getSingleMetric(name) as { labelNames?: readonly string[] } | undefined
    if (metric?.labelNames?.includes('relay_instance')) names.add(name)
  }
  assert.ok(names.size > 10, 'metrics with relay_instance found')
  return names
}

/** Runs promtool; a missing promtool fails the test (CI installs the prometheus package). */
function promtool(...args: string[]): { status: number | null; output: string } {
  const run = spawnSync('promtool', args, { encoding: 'utf8' })
  if (run.error) {
    assert.fail(`promtool is not on PATH (Debian: apt-get install prometheus): ${run.error.message}`)
  }
  return { status: run.status, output: `${run.stdout}${run.stderr}` }
}

describe('Grafana dashboards', () => {
  it('query only metrics the relay exports', async () => {
    const known = await exportedNames()
    const files = dashboardFiles()
    assert.ok(files.length > 0, 'no dashboards/*.json')
    for (const file of files) {
      const queries = dashboardQueries(readDashboard(file))
      assert.ok(queries.length > 0, `${file} has no queries`)
      assert.deepEqual(
        unknownMetrics(queries, known),
        [],
        `${file} queries metrics that src/metrics does not define`,
      )
    }
  })

  it('have a uid and ask for their Prometheus data source on import', () => {
    for (const file of dashboardFiles()) {
      const d = readDashboard(file)
      assert.ok(isRecord(d))
      assert.equal(typeof d.uid, 'string', `${file}: uid`)
      assert.equal(d.schemaVersion, 39, `${file}: schemaVersion`)
      assert.ok(
        Array.isArray(d.__inputs) && d.__inputs.some((i) => isRecord(i) && i.name === 'DS_PROMETHEUS'),
        `${file}: DS_PROMETHEUS input`,
      )
      const panels = Array.isArray(d.panels) ? d.panels.filter(isRecord).filter((p) => p.type !== 'row') : []
      assert.ok(panels.length > 0, `${file}: no panels`)
      for (const p of panels) {
        assert.ok(
          isRecord(p.datasource) && p.datasource.uid === '${DS_PROMETHEUS}',
          `${file}: panel "${String(p.title)}" data source`,
        )
      }
    }
  })

  it('filter every series of a relay instance by the $instance variable, where the dashboard has one', async () => {
    const perInstance = await relayInstanceMetrics()
    for (const file of dashboardFiles()) {
      const dashboard = readDashboard(file)
      const variables = isRecord(dashboard) && isRecord(dashboard.templating) && Array.isArray(dashboard.templating.list) ? dashboard.templating.list : []
      if (!variables.some((v) => isRecord(v) && v.name === 'instance')) continue
      for (const query of dashboardQueries(dashboard).filter((q) => !q.startsWith('label_values('))) {
        for (const [, name = '', labels = ''] of query.matchAll(SELECTOR)) {
          if (!perInstance.has(name.replace(/_(bucket|sum|count)$/, ''))) continue
          assert.match(labels, /relay_instance=~"\$instance"/, `${file}: ${name} in ${query}`)
        }
      }
    }
  })

  it('hold queries that promtool parses as PromQL', () => {
    const dir = mkdtempSync(join(tmpdir(), 'smarthost-dashboards-'))
    try {
      for (const file of dashboardFiles()) {
        // Grafana fills in $__rate_interval and the template variables before querying.
        const rules = dashboardQueries(readDashboard(file))
          .filter((q) => !q.startsWith('label_values('))
          .map((q, i) => ({
            record: `dashboard:query_${i}`,
            expr: q.replace(/\$__(rate_interval|interval|range)/g, '5m').replace(/\$\{?\w+\}?/g, '.+'),
          }))
        const path = join(dir, `${file}.rules.yaml`)
        writeFileSync(path, stringify({ groups: [{ name: file, rules }] }))
        const { status, output } = promtool('check', 'rules', path)
        assert.equal(status, 0, `${file}: ${output}`)
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

/** The paths the admin API serves under /api/stats, as the relay registers them. */
function statsRoutes(): Set<string> {
  const routes = new Set<string>()
  const recorder = { route: (method: string, path: string) => routes.add(`${method} ${path}`) } as unknown as AdminServer
  addStatsApi(recorder, { token: () => null, stats: () => null })
  return routes
}

/** Every value of each custom variable: [name, values]. */
function variableValues(d: Json): [string, string[]][] {
  const list = isRecord(d.templating) && Array.isArray(d.templating.list) ? d.templating.list.filter(isRecord) : []
  return list.map((v) => {
    assert.equal(v.type, 'custom', `variable ${String(v.name)} is a fixed list`)
    const options = Array.isArray(v.options) ? v.options.filter(isRecord).map((o) => String(o.value)) : []
    assert.ok(options.length > 0, `variable ${String(v.name)} has options`)
    return [String(v.name), options]
  })
}

/** `template` with its variables replaced, for every combination of their values. */
function expand(template: string, variables: [string, string[]][]): string[] {
  return variables.reduce(
    (texts, [name, values]) => texts.flatMap((text) => values.map((v) => text.replaceAll(`\${${name}}`, v).replaceAll(`$${name}`, v))),
    [template],
  )
}

describe('abuse-desk dashboard', () => {
  const datasources = parse(readFileSync(join(COMPOSE, 'grafana', 'datasources.yaml'), 'utf8')) as { datasources: Json[] }
  const infinity = datasources.datasources.find((ds) => ds.type === INFINITY)

  it('is provisioned in the compose deployment: the Infinity plugin installed, its data source with the token in a secure header', () => {
    assert.ok(infinity, 'an Infinity data source in deploy/compose/grafana/datasources.yaml')
    assert.equal(typeof infinity.uid, 'string')
    assert.ok(isRecord(infinity.jsonData) && isRecord(infinity.secureJsonData))
    assert.equal(infinity.jsonData.httpHeaderName1, 'Authorization')
    assert.match(String(infinity.secureJsonData.httpHeaderValue1), /^Bearer \$\{SMARTHOST_GUARD_ADMIN_TOKEN\}$/)
    const compose = parse(readFileSync(join(COMPOSE, 'compose.yaml'), 'utf8')) as { services: Record<string, { environment: Record<string, string> }> }
    const env = compose.services.grafana?.environment ?? {}
    assert.match(env.GF_INSTALL_PLUGINS ?? '', new RegExp(`(^|,)${INFINITY} \\d+\\.\\d+\\.\\d+(,|$)`))
    assert.ok('SMARTHOST_GUARD_ADMIN_TOKEN' in env, 'Grafana gets the admin token from the environment')
  })

  it('asks only /api/stats routes, with query values the API accepts, of allowed hosts, through the provisioned data source', () => {
    const files = allDashboards().filter(readsAdminApi)
    assert.deepEqual(files, ['smarthost-guard-abuse-desk.json'])
    const routes = statsRoutes()
    const allowed = (isRecord(infinity?.jsonData) && Array.isArray(infinity.jsonData.allowedHosts) ? infinity.jsonData.allowedHosts : []).map(String)
    const sorts = new Set<string>()
    for (const file of files) {
      const d = readDashboard(file)
      assert.ok(isRecord(d))
      assert.equal(d.uid, 'smarthost-guard-abuse-desk')
      assert.equal(d.schemaVersion, 39, `${file}: schemaVersion`)
      const variables = variableValues(d)
      const panels = panelsOf(d)
      assert.ok(panels.length >= 4, `${file}: panels`)
      for (const p of panels) {
        const where = `${file}: panel "${String(p.title)}"`
        assert.deepEqual(p.datasource, { type: INFINITY, uid: infinity?.uid }, `${where} data source`)
        assert.ok(Array.isArray(p.targets) && p.targets.length > 0, `${where} targets`)
        for (const t of p.targets.filter(isRecord)) {
          assert.deepEqual(t.datasource, p.datasource, `${where} target data source`)
          assert.equal(t.type, 'json')
          assert.equal(t.source, 'url')
          assert.equal(t.root_selector, 'rows', `${where}: the API answers { rows: [...] }`)
          for (const url of expand(String(t.url), variables)) {
            assert.doesNotMatch(url, /\$/, `${where}: ${url} has an unknown variable`)
            const u = new URL(url)
            assert.ok(allowed.includes(u.origin), `${where}: ${u.origin} is not an allowed host of the data source`)
            assert.ok(routes.has(`GET ${u.pathname}`), `${where}: GET ${u.pathname} is not a statistics route`)
            const q = statsTopQuery.safeParse(Object.fromEntries(u.searchParams))
            assert.ok(q.success, `${where}: ${url}: ${q.error?.message}`)
            sorts.add(q.data.sort)
          }
        }
      }
    }
    assert.deepEqual([...sorts].sort(), ['auth_failures', 'bounces', 'messages', 'refused'])
  })
})

describe('Prometheus alerting rules', () => {
  it('use only metrics the relay exports', async () => {
    const known = await exportedNames()
    const rules = ruleExpressions(parse(readFileSync(RULES, 'utf8')))
    assert.ok(rules.length > 0)
    for (const rule of rules) {
      assert.deepEqual(
        unknownMetrics([rule.expr], known),
        [],
        `${rule.name} uses metrics that src/metrics does not define`,
      )
    }
  })

  it('pass promtool check rules, every rule file of dashboards/ and deploy/', () => {
    const files = ruleFiles()
    assert.ok(files.includes(RULES), 'dashboards/prometheus-rules.yaml is a rule file')
    for (const file of files) {
      const { status, output } = promtool('check', 'rules', file)
      assert.equal(status, 0, `${file}: ${output}`)
    }
  })

  it('fire as their promtool unit tests expect: scanner failures, quarantine growth, penalty-box additions', () => {
    const tests = parse(readFileSync(RULE_TESTS, 'utf8')) as { tests: { alert_rule_test: { alertname: string }[] }[] }
    const tested = new Set(tests.tests.flatMap((t) => t.alert_rule_test.map((a) => a.alertname)))
    for (const alert of ['SmarthostScannerFailing', 'SmarthostQuarantineGrowing', 'SmarthostPenaltyBoxAdditions']) {
      assert.ok(tested.has(alert), `${alert} has a promtool unit test`)
    }
    const { status, output } = promtool('test', 'rules', RULE_TESTS)
    assert.equal(status, 0, output)
  })
})
