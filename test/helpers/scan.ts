import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import type { MessageData } from '../../src/relay/message.js'
import { countBareLineEndings } from '../../src/relay/message.js'
import type { CompiledRules } from '../../src/scan/engine.js'
import { loadEngine } from '../../src/scan/engine.js'
import { explode } from '../../src/scan/explode.js'
import { buildRuleSet, readRuleDir } from '../../src/scan/rule-set.js'
import type { ScanLimits, ScanReport } from '../../src/scan/types.js'
import type { PolicyTree } from './relay.js'

/** The default rule pack of the repository. */
export const RULES_DIR = fileURLToPath(new URL('../../policies/yara', import.meta.url))

/** Generous limits, as in the default policy. */
export const LIMITS: ScanLimits = {
  depth: 20,
  objects: 1000,
  totalBytes: 100 * 2 ** 20,
  expansionRatio: 100,
  timeMs: 10_000,
  memoryBytes: 512 * 2 ** 20,
}

/**
 * Makes the outbound instance of a test policy scan content with the default rule pack and
 * keep a quarantine in the test folder; `checks` come before the content scan.
 */
export function scanning(
  opts: { checks?: PolicyTree[]; contentScan?: PolicyTree; limits?: PolicyTree; workers?: number; queue?: number; rules?: string } = {},
): (p: PolicyTree) => void {
  return (p) => {
    p.instances.outbound.scan = {
      rules: opts.rules ?? RULES_DIR,
      workers: opts.workers ?? 2,
      queue: opts.queue ?? 100,
      limits: { time: '10s', ...opts.limits },
    }
    p.instances.outbound.quarantine = { dir: 'quarantine' }
    p.instances.outbound.checks = [...(opts.checks ?? []), { check: 'data.content_scan', on_error: 'tempfail', ...opts.contentScan }]
  }
}

/** Every line of every day's quarantine index. */
export async function quarantineIndex(dir: string): Promise<Record<string, unknown>[]> {
  const days = await readdir(dir).catch(() => [] as string[])
  const lines: Record<string, unknown>[] = []
  for (const day of days.sort()) {
    const text = await readFile(join(dir, day, 'index.jsonl'), 'utf8').catch(() => '')
    for (const l of text.split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>)
  }
  return lines
}

/** A received message as the data stage sees it. */
export function messageData(raw: string | Buffer): MessageData {
  const buf = typeof raw === 'string' ? Buffer.from(raw, 'latin1') : raw
  return { raw: buf, size: buf.length, overLimit: false, ...countBareLineEndings(buf) }
}

let compiled: Promise<CompiledRules> | null = null

/** The default rule pack compiled with the native engine, once per test file. */
export function defaultRules(): Promise<CompiledRules> {
  compiled ??= readRuleDir(RULES_DIR).then(async (files) => (await loadEngine('native')).compile(buildRuleSet(files, 'native').source, 10_000))
  return compiled
}

/** Explodes and scans a message in this thread (the function the scanner threads run). */
export async function scanHere(raw: string | Buffer, limits: Partial<ScanLimits> = {}): Promise<ScanReport> {
  const buf = typeof raw === 'string' ? Buffer.from(raw, 'latin1') : raw
  return explode(buf, {
    rules: await defaultRules(),
    engine: 'native',
    rulesId: 'test',
    externals: { client_class: 'unknown', sender_domain: 'customer.test' },
    limits: { ...LIMITS, ...limits },
  })
}

/** A silent logger. */
export const quiet = pino({ level: 'silent' })
