import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { parse, parseAllDocuments } from 'yaml'

// The Kubernetes manifests, checked here without a cluster. Every resource the kustomization
// applies, and every ConfigMap and Secret its generators make, is validated against the
// Kubernetes API's OpenAPI schemas as the npm package kubernetes-models compiles them (types,
// required fields, enums, formats). Like kubeconform without -strict, those schemas allow
// unknown fields, so the fields the relay depends on are checked by name below.

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const DIR = join(ROOT, 'deploy', 'kubernetes')

type Json = Record<string, unknown>
const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)

interface Generator {
  name: string
  type?: string
  files: string[]
}
interface Kustomization {
  namespace: string
  resources: string[]
  configMapGenerator: Generator[]
  secretGenerator: Generator[]
}

const kustomization = parse(readFileSync(join(DIR, 'kustomization.yaml'), 'utf8')) as Kustomization

/** `key=path` or `path` of a generator entry: [key, path relative to the kustomization]. */
const entry = (spec: string): [string, string] => {
  const [key, path] = spec.includes('=') ? (spec.split('=', 2) as [string, string]) : [spec.split('/').at(-1) ?? spec, spec]
  return [key, path]
}

function resources(): Json[] {
  return kustomization.resources.flatMap((file) =>
    parseAllDocuments(readFileSync(join(DIR, file), 'utf8')).map((doc) => {
      assert.deepEqual(doc.errors, [], `${file}: YAML errors`)
      const value: unknown = doc.toJS()
      assert.ok(isRecord(value), `${file}: every document is an object`)
      return value
    }),
  )
}

/** The objects the generators make, with the keys they hold (the content is the operator's). */
function generated(): Json[] {
  const make = (kind: 'ConfigMap' | 'Secret', g: Generator): Json => ({
    apiVersion: 'v1',
    kind,
    metadata: { name: g.name, namespace: kustomization.namespace },
    ...(g.type ? { type: g.type } : {}),
    data: Object.fromEntries(g.files.map((f) => [entry(f)[0], ''])),
  })
  return [...kustomization.configMapGenerator.map((g) => make('ConfigMap', g)), ...kustomization.secretGenerator.map((g) => make('Secret', g))]
}

type Model = new (data: unknown) => { validate(): void }

/** The kubernetes-models class of an object: apiVersion apps/v1, kind Deployment → kubernetes-models/apps/v1/Deployment. */
async function modelOf(doc: Json): Promise<Model> {
  const path = `kubernetes-models/${String(doc.apiVersion)}/${String(doc.kind)}`
  const module = (await import(path)) as Record<string, Model>
  const model = module[String(doc.kind)]
  assert.ok(model, `${path} has a model`)
  return model
}

const byKind = (docs: Json[], kind: string) => docs.filter((d) => d.kind === kind)
const nameOf = (d: Json) => String((d.metadata as Json).name)
const labelsMatch = (selector: Json, labels: Json) => Object.entries(selector).every(([k, v]) => labels[k] === v)

interface Container {
  name: string
  ports: { name: string; containerPort: number }[]
  readinessProbe?: { httpGet?: { port: string } }
  livenessProbe?: { httpGet?: { port: string } }
}
interface PodTemplate {
  metadata: { labels: Json }
  spec: {
    containers: Container[]
    volumes: { name: string; projected?: { sources: { configMap?: { name: string; items: { key: string }[] }; secret?: { name: string; items: { key: string }[] } }[] } }[]
  }
}
const templateOf = (d: Json) => (d.spec as { template: PodTemplate }).template

describe('Kubernetes manifests (kubectl apply -k deploy/kubernetes)', () => {
  it('validate against the Kubernetes API schemas, generated ConfigMaps and Secrets included', async () => {
    const docs = [...resources(), ...generated()]
    assert.ok(docs.length >= 10)
    for (const doc of docs) {
      const model = await modelOf(doc)
      assert.doesNotThrow(() => new model(doc).validate(), `${String(doc.kind)} ${nameOf(doc)}`)
    }
  })

  it('reject a manifest the schemas forbid (the validation has teeth)', async () => {
    const deployment = structuredClone(byKind(resources(), 'Deployment')[0]!)
    const container = templateOf(deployment).spec.containers[0]!
    ;(container.ports[0] as { containerPort: unknown }).containerPort = 'twenty-five'
    const model = await modelOf(deployment)
    assert.throws(() => new model(deployment).validate(), /containerPort must be integer/)
  })

  it('apply every manifest of the folder, and no Secret: secrets come only from files the operator creates', () => {
    const manifests = readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    assert.deepEqual([...kustomization.resources].sort(), manifests.sort())
    assert.deepEqual(byKind(resources(), 'Secret'), [], 'no Secret object among the applied resources')
    for (const g of kustomization.secretGenerator) {
      for (const spec of g.files) {
        const [, path] = entry(spec)
        assert.ok(path.startsWith('secrets/'), `${g.name}: ${path} is under secrets/`)
        const ignored = spawnSync('git', ['check-ignore', '-q', join('deploy', 'kubernetes', path)], { cwd: ROOT })
        assert.equal(ignored.status, 0, `${path} is ignored by git, so a real secret is never committed`)
      }
    }
  })

  it('generate every ConfigMap and Secret item the Deployments mount, from files that exist (ConfigMaps) or are documented (Secrets)', () => {
    const docs = [...resources(), ...generated()]
    const readme = readFileSync(join(DIR, 'secrets', 'README.md'), 'utf8')
    for (const g of kustomization.configMapGenerator) for (const f of g.files) assert.ok(existsSync(join(DIR, entry(f)[1])), `${g.name}: ${f}`)
    for (const g of kustomization.secretGenerator) for (const f of g.files) assert.ok(readme.includes(`\`${entry(f)[1].slice('secrets/'.length)}\``), `secrets/README.md names ${f}`)
    for (const deployment of byKind(docs, 'Deployment')) {
      for (const volume of templateOf(deployment).spec.volumes) {
        for (const source of volume.projected?.sources ?? []) {
          const [kind, ref] = source.configMap ? ['ConfigMap', source.configMap] : ['Secret', source.secret!]
          const object = docs.find((d) => d.kind === kind && nameOf(d) === ref.name)
          assert.ok(object, `${nameOf(deployment)} mounts ${kind} ${ref.name}, which nothing makes`)
          for (const item of ref.items) assert.ok(item.key in (object.data as Json), `${kind} ${ref.name} has key ${item.key}`)
        }
      }
    }
  })

  it('scale each instance with an HPA that owns the replica count and never goes below two, and a PDB that lets one pod drain at a time', () => {
    const docs = resources()
    const deployments = byKind(docs, 'Deployment')
    assert.equal(deployments.length, 2)
    for (const deployment of deployments) {
      const name = nameOf(deployment)
      assert.equal((deployment.spec as Json).replicas, undefined, `${name}: no replicas, or every apply resets the HPA's count`)
      const hpa = byKind(docs, 'HorizontalPodAutoscaler').find((h) => ((h.spec as Json).scaleTargetRef as Json).name === name)
      assert.ok(hpa, `${name} has an HPA`)
      const spec = hpa.spec as { minReplicas: number; maxReplicas: number; behavior: { scaleDown: { stabilizationWindowSeconds: number } } }
      assert.ok(spec.minReplicas >= 2 && spec.maxReplicas > spec.minReplicas, `${name}: HPA between ${spec.minReplicas} and ${spec.maxReplicas}`)
      // A removed pod drains for up to 35 s: scaling down waits far longer than that.
      assert.ok(spec.behavior.scaleDown.stabilizationWindowSeconds >= 300, `${name}: scale-down stabilization`)
      const labels = templateOf(deployment).metadata.labels
      const pdbs = byKind(docs, 'PodDisruptionBudget').filter((p) => labelsMatch(((p.spec as Json).selector as { matchLabels: Json }).matchLabels, labels))
      assert.equal(pdbs.length, 1, `${name}: one PodDisruptionBudget selects its pods`)
      const pdb = pdbs[0]!.spec as { maxUnavailable?: number; minAvailable?: number }
      assert.equal(pdb.maxUnavailable, 1, `${name}: one pod at a time may be evicted`)
      assert.ok(spec.minReplicas - pdb.maxUnavailable >= 1, `${name}: a pod keeps serving while one drains`)
    }
  })

  it('route every Service to pods that exist, through ports and probes that the containers name', () => {
    const docs = resources()
    const deployments = byKind(docs, 'Deployment')
    for (const deployment of deployments) {
      const ports = new Set(templateOf(deployment).spec.containers.flatMap((c) => c.ports.map((p) => p.name)))
      for (const c of templateOf(deployment).spec.containers) {
        for (const probe of [c.readinessProbe, c.livenessProbe]) assert.ok(probe?.httpGet && ports.has(probe.httpGet.port), `${nameOf(deployment)}: probe port`)
      }
    }
    for (const service of byKind(docs, 'Service')) {
      const spec = service.spec as { type?: string; selector?: Json; ports?: { targetPort: string | number }[]; externalTrafficPolicy?: string }
      if (spec.type === 'ExternalName') continue
      const targets = deployments.filter((d) => labelsMatch(spec.selector ?? {}, templateOf(d).metadata.labels))
      assert.ok(targets.length > 0, `Service ${nameOf(service)} selects a Deployment`)
      for (const port of spec.ports ?? []) {
        for (const d of targets) {
          const named = templateOf(d).spec.containers.flatMap((c) => c.ports.map((p) => p.name))
          assert.ok(typeof port.targetPort !== 'string' || named.includes(port.targetPort), `Service ${nameOf(service)} → ${nameOf(d)} port ${port.targetPort}`)
        }
      }
      // The client address decides relay authorization: a LoadBalancer must keep it.
      if (spec.type === 'LoadBalancer') assert.equal(spec.externalTrafficPolicy, 'Local', `Service ${nameOf(service)}`)
    }
  })

  it('resolve the Redis host of the container tree inside the namespace', () => {
    const tree = parse(readFileSync(join(DIR, 'config', 'relay.yaml'), 'utf8')) as { state: { redis: { url: string } } }
    const host = new URL(tree.state.redis.url).hostname
    assert.ok(
      byKind(resources(), 'Service').some((s) => nameOf(s) === host),
      `a Service named ${host} (${relative(ROOT, join(DIR, 'services.yaml'))})`,
    )
  })
})
