import { setFlagsFromString } from 'node:v8'

/**
 * V8 collects the old generation once it has grown by this much over what the last full
 * collection left; by default it lets it grow up to 4× on a machine with a few GB. What grows
 * it under load is objects of messages in flight that two scavenges found alive: they die soon
 * after, but stay, with their message buffers, until the next full collection. Measured with
 * every check on (docs/performance.md, "The heap's growing factor"): peak RSS 50–120 MB lower
 * than with Node's defaults or a 64 MB semi-space, throughput and CPU per message within the
 * spread of the runs.
 */
export const HEAP_GROWING_PERCENT = 50

const FLAG = /(?:^|\s)--heap[-_]growing[-_]percent(?:[=\s]|$)/

/** The V8 flags the relay sets for itself: none when the operator chose the factor (command line or NODE_OPTIONS). */
export function heapFlags(execArgv: readonly string[], nodeOptions = ''): string[] {
  if (execArgv.some((a) => FLAG.test(a)) || FLAG.test(nodeOptions)) return []
  return [`--heap-growing-percent=${HEAP_GROWING_PERCENT}`]
}

/** Sets the relay's heap flags in this process; V8 reads them at each collection, so setting them at start is enough. */
export function applyHeapPolicy(): void {
  for (const flag of heapFlags(process.execArgv, process.env.NODE_OPTIONS)) setFlagsFromString(flag)
}
