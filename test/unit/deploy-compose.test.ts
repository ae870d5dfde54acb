import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { existsSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { generate } from 'selfsigned'
import { parse } from 'yaml'
import { hashPassword } from '../../src/auth/password.js'
import { compileOffline } from '../../src/config/compile-offline.js'
import { loadPolicy } from '../../src/config/load.js'
import type { LoadedPolicy } from '../../src/config/load.js'

// The compose files, checked without Docker against the policy trees they run: every file a
// tree names is mounted or a secret, every listener is published (or reached through HAProxy
// with the PROXY protocol from the address the tree trusts), Prometheus and Grafana ask the
// admin ports that exist, Redis is the host the tree names, and the stop grace period outlasts
// the drain.

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const IMAGE_POLICIES = '/app/policies/'

type Json = Record<string, unknown>
const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)

interface Service {
  command?: string[]
  ports?: string[]
  volumes?: string[]
  secrets?: string[]
  networks?: string[] | Record<string, { ipv4_address?: string; aliases?: string[] } | null>
  stop_grace_period?: string
}
interface Compose {
  services: Record<string, Service>
  secrets?: Record<string, { file: string }>
}

interface Stack {
  name: string
  file: string
  /** The policy tree that a config volume mounted at /etc/smarthost-guard holds. */
  configVolumeTree?: string
}

const STACKS: Stack[] = [
  { name: 'production (deploy/compose)', file: 'deploy/compose/compose.yaml', configVolumeTree: 'policies/examples/container.yaml' },
  { name: 'demo cluster (deploy/compose/demo)', file: 'deploy/compose/demo/compose.yaml' },
]

/** Absolute paths a policy text names: the files it reads and the folders it writes. */
function namedPaths(text: string): string[] {
  const found = new Set<string>()
  const walk = (node: unknown): void => {
    if (typeof node === 'string' && /^\/(etc|run|app|var)\//.test(node)) found.add(node)
    else if (Array.isArray(node)) node.forEach(walk)
    else if (isRecord(node)) Object.values(node).forEach(walk)
  }
  walk(parse(text))
  return [...found].sort()
}

const seconds = (text: string) => {
  const m = /^(\d+)(s|m)$/.exec(text)
  assert.ok(m, `a duration such as 45s: ${text}`)
  return Number(m[1]) * (m[2] === 'm' ? 60 : 1)
}

/** `source:target[:mode]` of a compose volume: [source, target, read-only]. */
const mount = (spec: string): [string, string, boolean] => {
  const [source = '', target = '', mode = ''] = spec.split(':')
  return [source, target, mode === 'ro']
}

const aliasesOf = (name: string, service: Service): string[] => [
  name,
  ...(isRecord(service.networks) ? Object.values(service.networks).flatMap((n) => n?.aliases ?? []) : []),
]

let tls: { cert: string; key: string }
let credentials: string
let scratch: string

before(async () => {
  const pems = await generate([{ name: 'commonName', value: 'relay.example.net' }], { keySize: 2048, algorithm: 'sha256' })
  tls = { cert: pems.cert, key: pems.private }
  credentials = `demo:${await hashPassword('pw')}\n`
  scratch = await mkdtemp(join(tmpdir(), 'smarthost-compose-'))
})
after(() => rm(scratch, { recursive: true, force: true }))

/** Loads a tree as a container would see it: /etc/smarthost-guard and /run/secrets hold stand-ins, /app/policies is the package's. */
async function loadAsContainer(text: string): Promise<LoadedPolicy> {
  const dir = await mkdtemp(join(scratch, 'tree-'))
  let local = text.replaceAll(IMAGE_POLICIES, join(ROOT, 'policies/'))
  for (const path of namedPaths(text).filter((p) => p.startsWith('/etc/') || p.startsWith('/run/'))) {
    const file = join(dir, path)
    await mkdir(dirname(file), { recursive: true })
    const content = path.endsWith('.crt') ? tls.cert : path.endsWith('.key') ? tls.key : path.endsWith('.passwd') ? credentials : 'c2VjcmV0LXN0YW5kLWlu\n'
    await writeFile(file, content)
    local = local.replaceAll(path, file)
  }
  const policyFile = join(dir, 'relay.yaml')
  await writeFile(policyFile, local)
  return loadPolicy(policyFile)
}

for (const stack of STACKS) {
  describe(`compose: ${stack.name}`, () => {
    const composeDir = dirname(join(ROOT, stack.file))
    const text = readFileSync(join(ROOT, stack.file), 'utf8')
    const compose = parse(text, { merge: true }) as Compose
    const relays = Object.entries(compose.services).filter(([, s]) => s.command?.[0] === 'serve')
    const hostPath = (source: string) => resolve(composeDir, source)

    /** The tree file and the instance a relay service runs. */
    const runs = (name: string, service: Service): { tree: string; instance: string } => {
      const args = service.command ?? []
      const config = args[args.indexOf('--config') + 1] ?? ''
      const instance = args[args.indexOf('--instance') + 1] ?? ''
      for (const [source, target] of (service.volumes ?? []).map(mount)) {
        if (target === config && source.startsWith('.')) return { tree: hostPath(source), instance }
        if (target === dirname(config) && stack.configVolumeTree) return { tree: join(ROOT, stack.configVolumeTree), instance }
      }
      assert.fail(`${name}: nothing mounts ${config}`)
    }

    it('runs relay services whose trees validate and compile, each instance named in its tree', async () => {
      assert.ok(relays.length >= 2)
      for (const [name, service] of relays) {
        const { tree, instance } = runs(name, service)
        const loaded = await loadAsContainer(await readFile(tree, 'utf8'))
        compileOffline(loaded)
        assert.ok(loaded.policy.instances[instance as 'outbound' | 'inbound'], `${name}: instance ${instance} in ${relative(ROOT, tree)}`)
      }
    })

    it('gives each relay every file its tree names: the config volume, a secret, the image, or a writable state volume', () => {
      for (const [name, service] of relays) {
        const { tree } = runs(name, service)
        const mounts = (service.volumes ?? []).map(mount)
        for (const path of namedPaths(readFileSync(tree, 'utf8'))) {
          if (path.startsWith('/run/secrets/')) {
            const secret = path.slice('/run/secrets/'.length)
            assert.ok(service.secrets?.includes(secret), `${name} has secret ${secret}`)
            const file = compose.secrets?.[secret]?.file
            assert.ok(file, `secret ${secret} is defined with a file`)
            const ignored = spawnSync('git', ['check-ignore', '-q', relative(ROOT, hostPath(file))], { cwd: ROOT })
            assert.equal(ignored.status, 0, `${file} is git-ignored: the operator makes it, it is never committed`)
          } else if (path.startsWith(IMAGE_POLICIES)) {
            assert.ok(existsSync(join(ROOT, 'policies', path.slice(IMAGE_POLICIES.length))), `${path} ships in the image`)
          } else if (path.startsWith('/var/lib/smarthost-guard/')) {
            assert.ok(
              mounts.some(([, target, ro]) => target === '/var/lib/smarthost-guard' && !ro),
              `${name}: a writable volume at /var/lib/smarthost-guard for ${path}`,
            )
          } else {
            assert.ok(
              mounts.some(([, target]) => target === path || path.startsWith(`${target}/`)),
              `${name}: ${path} is mounted`,
            )
          }
        }
      }
    })

    it('publishes every listener, or routes it through HAProxy with send-proxy-v2 from the one address its proxy_from trusts', async () => {
      const haproxyService = compose.services.haproxy
      const haproxyCfg = haproxyService
        ? readFileSync(hostPath(mount(haproxyService.volumes?.find((v) => v.includes('haproxy.cfg')) ?? '')[0]), 'utf8')
        : ''
      const haproxyAddress = isRecord(haproxyService?.networks) ? Object.values(haproxyService.networks).find((n) => n?.ipv4_address)?.ipv4_address : undefined
      for (const [name, service] of relays) {
        const { tree, instance } = runs(name, service)
        const config = (await loadAsContainer(readFileSync(tree, 'utf8'))).policy.instances[instance as 'outbound' | 'inbound']
        assert.ok(config)
        const published = (service.ports ?? []).map((p) => Number(p.split(':').at(-1)))
        for (const listener of config.listeners) {
          if (listener.proxy_from.length === 0) {
            assert.ok(published.includes(listener.port), `${name}: listener ${listener.name} (port ${listener.port}) is published`)
            continue
          }
          assert.ok(haproxyAddress, 'HAProxy has a fixed address')
          assert.ok(
            listener.proxy_from.some((cidr) => cidr === `${haproxyAddress}/32` || cidr === haproxyAddress),
            `${name}: ${listener.name} trusts PROXY headers from HAProxy (${haproxyAddress})`,
          )
          const server = new RegExp(`^\\s*server \\S+ ${name}:${listener.port} send-proxy-v2 check port ${config.admin?.port}\\b`, 'm')
          assert.match(haproxyCfg, server, `haproxy.cfg sends ${name}:${listener.port} PROXY v2 and checks its /readyz`)
        }
      }
    })

    it('lets Prometheus scrape every relay and Grafana ask only their admin listeners', () => {
      const prometheus = compose.services.prometheus
      assert.ok(prometheus)
      const promFile = hostPath(mount(prometheus.volumes?.find((v) => v.includes('prometheus.yml')) ?? '')[0])
      const targets = (parse(readFileSync(promFile, 'utf8')) as { scrape_configs: { static_configs: { targets: string[] }[] }[] }).scrape_configs.flatMap((c) =>
        c.static_configs.flatMap((s) => s.targets),
      )
      const admins = new Set<string>()
      for (const [name, service] of relays) {
        const { tree, instance } = runs(name, service)
        const top = parse(readFileSync(tree, 'utf8')) as { instances: Record<string, { admin: { port: number } }> }
        const port = top.instances[instance]?.admin.port
        assert.ok(targets.includes(`${name}:${port}`), `Prometheus scrapes ${name}:${port}`)
        for (const host of aliasesOf(name, service)) admins.add(`http://${host}:${port}`)
      }
      const grafana = compose.services.grafana
      const dsFile = grafana?.volumes?.map(mount).find(([, target]) => target.includes('provisioning/datasources'))?.[0]
      assert.ok(dsFile, 'Grafana has a provisioned data source file')
      const datasources = (parse(readFileSync(hostPath(dsFile), 'utf8')) as { datasources: { jsonData?: { allowedHosts?: string[] } }[] }).datasources
      for (const host of datasources.flatMap((d) => d.jsonData?.allowedHosts ?? [])) assert.ok(admins.has(host), `${host} is a relay's admin listener`)
    })

    it('runs the Redis the trees name, and gives each relay longer to stop than its drain', async () => {
      for (const [name, service] of relays) {
        const { tree, instance } = runs(name, service)
        const loaded = await loadAsContainer(readFileSync(tree, 'utf8'))
        const redis = (parse(readFileSync(tree, 'utf8')) as { state?: { redis?: { url?: string } } }).state?.redis?.url
        assert.ok(redis, `${name}: the tree keeps its state in Redis`)
        assert.ok(compose.services[new URL(redis).hostname], `a service named ${new URL(redis).hostname}`)
        const drain = loaded.policy.instances[instance as 'outbound' | 'inbound']?.limits.drain_timeout ?? 0
        assert.ok(seconds(service.stop_grace_period ?? '10s') * 1000 >= drain + 5000, `${name}: stop_grace_period vs drain_timeout`)
      }
    })

    it('says in its header how to set every variable it requires', () => {
      const required = [...text.matchAll(/\$\{(\w+):\?/g)].map((m) => m[1])
      const header = text.split('\n').filter((l) => l.startsWith('#')).join('\n')
      for (const name of required) assert.match(header, new RegExp(`export ${name}=`), `${name} is explained`)
    })
  })
}
