import type { InstanceName, Policy } from '../config/schema.js'
import { checkRules, readRuleDir } from './rule-set.js'

/** The check that uses an instance's scanner; its rules are read and compiled only then. */
const CONTENT_SCAN_CHECK = 'data.content_scan'

/** True when the instance lists the content scan. */
export function scansContent(inst: { checks: readonly { check: string }[] }): boolean {
  return inst.checks.some((c) => c.check === CONTENT_SCAN_CHECK)
}

/**
 * Reads the YARA-X rules of every running instance that scans content into `files` and
 * compiles them, so a broken rule file fails the load (or the reload, which then keeps the
 * running rules) with its file and line. `report` places a problem at the policy key.
 */
export async function loadPolicyRules(
  policy: Policy,
  running: readonly InstanceName[],
  files: Map<string, string>,
  report: (path: readonly PropertyKey[], problem: string) => void,
): Promise<void> {
  for (const name of running) {
    const inst = policy.instances[name]
    if (!inst || !scansContent(inst)) continue
    const at = ['instances', name, 'scan', 'rules'] as const
    let read
    try {
      read = await readRuleDir(inst.scan.rules)
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such folder' : (err as Error).message
      report(at, `cannot read the rules folder ${inst.scan.rules}: ${reason}`)
      continue
    }
    for (const f of read) files.set(f.path, f.text)
    const { problems } = await checkRules(read, inst.scan.engine)
    for (const p of problems) report(at, p)
  }
}
