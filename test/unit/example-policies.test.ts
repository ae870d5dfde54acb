import assert from 'node:assert/strict'
import { cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { generate } from 'selfsigned'
import { parse, parseAllDocuments } from 'yaml'
import { hashPassword } from '../../src/auth/password.js'
import { compileOffline } from '../../src/config/compile-offline.js'
import { loadPolicy } from '../../src/config/load.js'
import type { LoadedPolicy } from '../../src/config/load.js'
import { INSTANCE_NAMES } from '../../src/config/schema.js'
import { parseCidr } from '../../src/config/units.js'

// The example trees are what postmasters copy, so they must validate as check-config would
// see them on a relay host. They name absolute files under /etc/smarthost-guard; each test
// copies a tree to a temporary folder, points those paths there and creates the files: one
// self-signed certificate and key for every cert/key, a credentials file with one user, and a
// short list for every other file (recipient lists).

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const EXAMPLES = join(ROOT, 'policies', 'examples')
const KUBERNETES = join(ROOT, 'deploy', 'kubernetes')
const ETC = '/etc/smarthost-guard/'
const RULE_PACK = fileURLToPath(new URL('../../policies/yara', import.meta.url))
/** Where the container image has the package's policies/ (deploy/container/Dockerfile: WORKDIR /app). */
const IMAGE_POLICIES = '/app/policies/'

type Json = Record<string, unknown>
const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)

/** Every string value under /etc/smarthost-guard/ in a YAML text (comments do not count). */
function namedFiles(text: string): string[] {
  const found = new Set<string>()
  const walk = (node: unknown): void => {
    if (typeof node === 'string' && node.startsWith(ETC)) found.add(node)
    else if (Array.isArray(node)) node.forEach(walk)
    else if (isRecord(node)) Object.values(node).forEach(walk)
  }
  walk(parse(text))
  return [...found].sort()
}

let tls: { cert: string; key: string }
let credentials: string
let scratch: string

before(async () => {
  const pems = await generate([{ name: 'commonName', value: 'relay.example.net' }], {
    keySize: 2048,
    algorithm: 'sha256',
  })
  tls = { cert: pems.cert, key: pems.private }
  credentials = `demo:${await hashPassword('pw')}\n`
  scratch = await mkdtemp(join(tmpdir(), 'smarthost-examples-'))
})

after(() => rm(scratch, { recursive: true, force: true }))

/** A stand-in for a named file, chosen by its extension. */
function contentFor(file: string): string {
  if (file.endsWith('.crt')) return tls.cert
  if (file.endsWith('.key')) return tls.key
  if (file.endsWith('.passwd')) return credentials
  if (file.endsWith('.cidrs')) return '# network list\n192.0.2.0/25\n2001:db8:1::/48\n'
  if (file.endsWith('.token')) return 'c2VjcmV0LXRva2Vu\n'
  return 'postmaster\nabuse\n'
}

/** Installs a policy text into a fresh folder as /etc/smarthost-guard would hold it, and loads it. */
async function install(name: string, text: string): Promise<{ loaded: LoadedPolicy; dir: string }> {
  const dir = await mkdtemp(join(scratch, `${name}-`))
  for (const file of namedFiles(text)) {
    const path = join(dir, file.slice(ETC.length))
    await mkdir(dirname(path), { recursive: true })
    // A rules folder gets the package's rule pack, as the install steps copy it.
    if (file.endsWith('/yara')) await cp(RULE_PACK, path, { recursive: true })
    else await writeFile(path, contentFor(file))
  }
  const policyFile = join(dir, 'relay.yaml')
  await writeFile(policyFile, text.replaceAll(ETC, `${dir}/`).replaceAll(IMAGE_POLICIES, join(ROOT, 'policies/')))
  return { loaded: await loadPolicy(policyFile), dir }
}

const examples = (await readdir(EXAMPLES)).filter((f) => f.endsWith('.yaml')).sort()
const readExample = (file: string) => readFile(join(EXAMPLES, file), 'utf8')

function kubernetesDocs(file: string, text: string): Json[] {
  return parseAllDocuments(text).map((doc) => {
    assert.deepEqual(doc.errors, [], `${file}: YAML errors`)
    const value: unknown = doc.toJS()
    assert.ok(isRecord(value), `${file}: every document is an object`)
    return value
  })
}

/** Every document of the resources that deploy/kubernetes/kustomization.yaml applies. */
async function kubernetes(): Promise<Json[]> {
  const kustomization = parse(await readFile(join(KUBERNETES, 'kustomization.yaml'), 'utf8')) as { resources: string[] }
  const docs = await Promise.all(
    kustomization.resources.map(async (f) => kubernetesDocs(f, await readFile(join(KUBERNETES, f), 'utf8'))),
  )
  return docs.flat()
}

describe('example policy trees', () => {
  it('exist for production, containers and single-instance hosts', () => {
    for (const name of ['production.yaml', 'container.yaml', 'inbound-only.yaml', 'outbound-only.yaml']) {
      assert.ok(examples.includes(name), `policies/examples/${name}`)
    }
  })

  for (const file of examples) {
    it(`${file} validates and compiles with every file it names in place`, async () => {
      const text = await readExample(file)
      const { loaded, dir } = await install(file, text)
      compileOffline(loaded)
      assert.ok(loaded.files.size > 0, 'the tree names no files, so nothing was read')
      for (const path of loaded.files.keys()) {
        assert.ok(path.startsWith(`${dir}/`) || path.startsWith(RULE_PACK), `${path} is outside /etc/smarthost-guard and the image's rule pack`)
      }
    })
  }

  it('let no example relay for every address without AUTH', async () => {
    for (const file of examples) {
      const { loaded } = await install(file, await readExample(file))
      for (const name of INSTANCE_NAMES) {
        for (const net of loaded.policy.instances[name]?.relay.networks ?? []) {
          assert.notEqual(parseCidr(net)?.prefix, 0, `${file}: instances.${name}.relay.networks holds ${net}`)
        }
      }
    }
  })

  it('give each instance of production.yaml its own admin port, so each runs as its own process', async () => {
    const { loaded } = await install('production', await readExample('production.yaml'))
    const { outbound, inbound } = loaded.policy.instances
    assert.ok(outbound?.admin && inbound?.admin, 'both instances define admin')
    assert.notEqual(outbound.admin.port, inbound.admin.port)
  })
})

describe('Kubernetes manifests', () => {
  it('carry policies/examples/container.yaml unchanged as the policy ConfigMap\u2019s relay.yaml', async () => {
    assert.equal(await readFile(join(KUBERNETES, 'config', 'relay.yaml'), 'utf8'), await readExample('container.yaml'))
  })

  it('mount every file the container tree names in both Deployments, and outlast its drain timeout', async () => {
    const text = await readExample('container.yaml')
    const wanted = ['relay.yaml', ...namedFiles(text).map((f) => f.slice(ETC.length))]
    const { loaded } = await install('container', text)
    const deployments = (await kubernetes()).filter((d) => d.kind === 'Deployment')
    assert.equal(deployments.length, 2)
    for (const deployment of deployments) {
      const pod = (deployment as { spec: { template: { spec: PodSpec } } }).spec.template.spec
      const name = String((deployment.metadata as Json).name)
      const container = pod.containers[0]
      assert.ok(container)
      const mount = container.volumeMounts.find((m) => m.mountPath === ETC.slice(0, -1))
      assert.ok(mount, `${name} mounts ${ETC}`)
      const volume = pod.volumes.find((v) => v.name === mount.name)
      const mounted = (volume?.projected?.sources ?? []).flatMap(
        (s) => (s.configMap ?? s.secret)?.items?.map((i) => i.path) ?? [],
      )
      assert.deepEqual(
        wanted.filter((f) => !mounted.includes(f)),
        [],
        `${name} lacks files the tree names`,
      )

      const instance = container.args[container.args.indexOf('--instance') + 1]
      const config = loaded.policy.instances[instance as 'outbound' | 'inbound']
      assert.ok(config, `${name} runs instance ${String(instance)} of the tree`)
      const preStop = Number(container.lifecycle?.preStop?.exec?.command?.at(-1) ?? 0)
      // SIGTERM comes after preStop; the drain then needs drain_timeout, and a second more to cut what is left.
      assert.ok(
        pod.terminationGracePeriodSeconds * 1000 >= preStop * 1000 + config.limits.drain_timeout + 5000,
        `${name}: grace period ${pod.terminationGracePeriodSeconds} s vs preStop ${preStop} s + drain_timeout ${config.limits.drain_timeout} ms + 5 s`,
      )
    }
  })
})

interface PodSpec {
  terminationGracePeriodSeconds: number
  containers: {
    args: string[]
    volumeMounts: { name: string; mountPath: string }[]
    lifecycle?: { preStop?: { exec?: { command?: string[] } } }
  }[]
  volumes: {
    name: string
    projected?: {
      sources: { configMap?: { items?: { path: string }[] }; secret?: { items?: { path: string }[] } }[]
    }
  }[]
}
