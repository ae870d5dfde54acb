import { readFile } from 'node:fs/promises'

/** The parts of a V8 .cpuprofile (node --cpu-prof) this summary reads. */
interface CpuProfile {
  nodes: {
    id: number
    callFrame: { functionName: string; url: string; lineNumber: number }
    children?: number[]
  }[]
  samples: number[]
  timeDeltas: number[]
}

/** Time attributed to one key, in ms and as a share of the busy (non-idle) time. */
export interface ProfileRow {
  name: string
  ms: number
  share: number
}

/** Where a relay spends its CPU. */
export interface ProfileSummary {
  totalMs: number
  busyMs: number
  /** Self time per function. */
  functions: ProfileRow[]
  /** Self time per package or per relay module (node_modules/<pkg>, src/<file>, node:internal). */
  areas: ProfileRow[]
  /** Time with a relay module anywhere on the stack (a sample counts once per module). */
  modules: ProfileRow[]
}

const IDLE = new Set(['(idle)', '(root)'])

/** Names a script by what owns it: an npm package, a relay module, or Node itself. */
function owner(url: string): string {
  if (!url) return '(native)'
  if (url.startsWith('node:')) return url.startsWith('node:internal/') ? 'node:internal' : url
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (pkg) return `node_modules/${pkg[1]}`
  const dist = /\/dist\/(.+)\.js$/.exec(url)
  if (dist) return `src/${dist[1]}.ts`
  return url.replace(/^file:\/\//, '')
}

function rows(times: Map<string, number>, busyMs: number, top: number): ProfileRow[] {
  return [...times]
    .map(([name, ms]) => ({ name, ms, share: ms / busyMs }))
    .sort((a, b) => b.ms - a.ms)
    .slice(0, top)
}

/** Reads a .cpuprofile and attributes its samples to functions, owners and relay modules. */
export async function summarizeProfile(file: string, top = 20): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const selfTime = new Map<number, number>()
  // timeDeltas[i] is the time since the previous sample; it is spent in sample i - 1.
  profile.samples.forEach((id, i) => {
    const ms = (profile.timeDeltas[i + 1] ?? 0) / 1000
    selfTime.set(id, (selfTime.get(id) ?? 0) + ms)
  })
  const functions = new Map<string, number>()
  const areas = new Map<string, number>()
  const modules = new Map<string, number>()
  let totalMs = 0
  let busyMs = 0
  for (const [id, ms] of selfTime) {
    const frame = byId.get(id)?.callFrame
    if (!frame) continue
    totalMs += ms
    if (IDLE.has(frame.functionName)) continue
    busyMs += ms
    const where = owner(frame.url)
    const fn = `${frame.functionName || '(anonymous)'} ${where}${frame.url ? `:${frame.lineNumber + 1}` : ''}`
    functions.set(fn, (functions.get(fn) ?? 0) + ms)
    areas.set(where, (areas.get(where) ?? 0) + ms)
    const seen = new Set<string>()
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const m = owner(byId.get(at)?.callFrame.url ?? '')
      if (m.startsWith('src/') && !seen.has(m)) {
        seen.add(m)
        modules.set(m, (modules.get(m) ?? 0) + ms)
      }
    }
  }
  return {
    totalMs,
    busyMs,
    functions: rows(functions, busyMs, top),
    areas: rows(areas, busyMs, top),
    modules: rows(modules, busyMs, top),
  }
}
