import type { InstanceName } from '../config/schema.js'
import { INSTANCE_NAMES } from '../config/schema.js'
import type { Command } from './args.js'
import { instanceName, loadPolicyOrReport, parse } from './args.js'
import { isServeProcess, pidFileFor, pidState, readPidFile } from './pid-file.js'

/** `smarthost-guard reload`: validates the policy and sends SIGHUP to the running relay named by its pid file. */
export const reload: Command = {
  name: 'reload',
  summary: 'validate the policy and make the running relay reload it (SIGHUP through its pid file)',
  usage: `Usage: smarthost-guard reload [--config FILE] [--instance NAME]

Validates the policy tree as check-config does and, if it is valid, sends SIGHUP to the
running relay found through the pid file that serve writes (the policy's pid_file; with
serve --instance NAME the file named with -NAME, e.g. smarthost-guard-outbound.pid). The
relay applies the tree to new sessions; open sessions finish on the one they started with.
Without --instance, every relay of this policy found running is signalled: the one serving
all instances and those serving one each.

Exit status 0 when signalled; 1 when the tree is invalid, no relay runs (no pid file, or a
stale one whose process is gone) or it cannot be signalled; 2 on a usage error.

Options:
  -c, --config FILE     policy tree (default: $SMARTHOST_GUARD_CONFIG or the embedded policies/relay.yaml)
  -i, --instance NAME   the relay started with serve --instance NAME: outbound or inbound
`,
  async run(argv) {
    const { values } = parse(argv, {
      config: { type: 'string', short: 'c' },
      instance: { type: 'string', short: 'i' },
    })
    const instance = values.instance === undefined ? undefined : instanceName(values.instance)
    // With --instance, as that relay reads it: only its instance's files.
    const loaded = await loadPolicyOrReport(values.config, { instances: instance ? [instance] : undefined })
    if (!loaded) {
      process.stderr.write('smarthost-guard reload: not reloaded; the running policy stays\n')
      return 1
    }
    const base = loaded.policy.pid_file
    if (!base) {
      fail(`${loaded.file} names no pid_file: add one, or send SIGHUP to the relay's process yourself (systemctl reload)`)
      return 1
    }
    const wanted: (InstanceName | undefined)[] = instance ? [instance] : [undefined, ...INSTANCE_NAMES.filter((n) => loaded.policy.instances[n])]
    const found: { file: string; pid: number }[] = []
    for (const name of wanted) {
      const file = pidFileFor(base, name)
      const pid = await readPidFile(file).catch((err: Error) => fail(err.message))
      if (pid !== null) found.push({ file, pid })
    }
    if (!found.length) {
      fail(`no relay runs: no pid file ${pidFileFor(base, instance)} (serve writes it at start${instance ? ` with --instance ${instance}` : ''})`)
      return 1
    }
    let code = 0
    for (const { file, pid } of found) {
      const problem = await cannotSignal(file, pid)
      if (problem) {
        fail(problem)
        code = 1
        continue
      }
      process.kill(pid, 'SIGHUP')
      process.stdout.write(`sent SIGHUP to the relay, pid ${pid} (${file}): it reloads ${loaded.file}\n`)
    }
    return code
  },
}

async function cannotSignal(file: string, pid: number): Promise<string | null> {
  const state = pidState(pid)
  if (state === 'gone') return `stale pid file ${file}: no process ${pid} runs (the relay stopped without removing it); start the relay, or remove the file`
  if (state === 'not-permitted') return `not permitted to signal pid ${pid} (${file}): run this as the relay's user`
  if ((await isServeProcess(pid)) === false) return `stale pid file ${file}: process ${pid} is not smarthost-guard serve; start the relay, or remove the file`
  return null
}

function fail(message: string): null {
  process.stderr.write(`smarthost-guard reload: ${message}\n`)
  return null
}
