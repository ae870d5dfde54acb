import { readFileSync, readdirSync } from 'node:fs'

// /proc reports CPU time in USER_HZ ticks, which Linux fixes at 100 for user space.
const TICKS_PER_SECOND = 100

/**
 * CPU seconds (user + system) another process has used so far, from /proc/<pid>/stat;
 * null where /proc is not available.
 */
export function processCpuSeconds(pid: number): number | null {
  let stat: string
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
  } catch {
    return null
  }
  // The command name in parentheses may contain spaces; the fields after it do not.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const utime = Number(fields[11])
  const stime = Number(fields[12])
  return Number.isFinite(utime + stime) ? (utime + stime) / TICKS_PER_SECOND : null
}

/** Measures the CPU a process uses over an interval, as a fraction of one core. */
export function cpuMeter(pid: number): () => number | null {
  const cpu0 = processCpuSeconds(pid)
  const t0 = process.hrtime.bigint()
  return () => {
    const cpu1 = processCpuSeconds(pid)
    if (cpu0 === null || cpu1 === null) return null
    const wall = Number(process.hrtime.bigint() - t0) / 1e9
    return wall > 0 ? (cpu1 - cpu0) / wall : null
  }
}

/** The CPU this process uses over an interval, as a fraction of one core. */
export function ownCpuMeter(): () => number {
  const usage0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  return () => {
    const usage = process.cpuUsage(usage0)
    const wall = Number(process.hrtime.bigint() - t0) / 1e3
    return (usage.user + usage.system) / wall
  }
}

/** The process and its descendants (a relay with worker processes), from /proc; [pid] where /proc is not available. */
export function processTree(pid: number): number[] {
  let entries: string[]
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e))
  } catch {
    return [pid]
  }
  const children = new Map<number, number[]>()
  for (const e of entries) {
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'latin1')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      const list = children.get(ppid) ?? []
      list.push(Number(e))
      children.set(ppid, list)
    } catch {
      // gone meanwhile
    }
  }
  const tree = [pid]
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i] as number) ?? []))
  return tree
}

/** CPU seconds of a process and its descendants (setpriv execs the program, so the pid is the program's). */
export function treeCpuSeconds(pid: number): number | null {
  let total = 0
  for (const p of processTree(pid)) {
    const s = processCpuSeconds(p)
    if (s === null && p === pid) return null
    total += s ?? 0
  }
  return total
}

/** Peak resident set (VmHWM) of a process plus its descendants' in MB; null where /proc is not available. */
export function treePeakRssMb(pid: number): number | null {
  let kb = 0
  for (const p of processTree(pid)) {
    try {
      kb += Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'latin1'))?.[1] ?? 0)
    } catch {
      if (p === pid) return null
    }
  }
  return kb / 1024
}
