import { runDemo } from '../demo/runner.js'
import { renderReport } from '../demo/report.js'
import type { Command } from './args.js'
import { UsageError, parse } from './args.js'

/** `smarthost-guard demo`: a small ISP played against the relay on loopback, with a report. */
export const demo: Command = {
  name: 'demo',
  summary: 'play a small ISP (home users, office, newsletter, Exchange, bot, cracked account) against the relay, and report',
  usage: `Usage: smarthost-guard demo [--minutes N] [--seed S] [--json] [--keep]

Starts, all on loopback: the relay on the shipped demo policy (policies/demo/relay.yaml, run as
"serve --instance outbound" in a child process), an SMTP sink as its next hop, a DNS server
with the demo's SPF and DMARC zones, and a webhook receiver for incidents. Then plays, at
once and each from its own 127.x addresses: home users, a small office, a newsletter sender,
a hosted Exchange that starts backscattering, a spam bot and a cracked account. Prints, per
profile, what was attempted, accepted and refused (by reply code and reason), the time and
messages until the first refusal, the incidents raised and how soon, the false positives,
and the targets met. The same seed plays the same customers.

Options:
  -m, --minutes N   how long to play (default 4; fractions allowed, at least 0.5)
  -s, --seed S      seed of the customers' random choices (default 1)
      --json        print the report as JSON (no progress line)
      --keep        keep the working folder (the policy as run, the relay's log, alerts)
`,
  async run(argv) {
    const { values } = parse(argv, {
      minutes: { type: 'string', short: 'm', default: '4' },
      seed: { type: 'string', short: 's', default: '1' },
      json: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
    })
    const minutes = Number(values.minutes)
    if (!Number.isFinite(minutes) || minutes < 0.5 || minutes > 60) throw new UsageError(`--minutes must be a number from 0.5 to 60, got ${values.minutes}`)
    const seed = Number(values.seed)
    if (!Number.isInteger(seed) || seed < 0) throw new UsageError(`--seed must be a non-negative integer, got ${values.seed}`)
    const abort = new AbortController()
    const interrupt = () => abort.abort()
    process.once('SIGINT', interrupt)
    process.once('SIGTERM', interrupt)
    const tty = process.stderr.isTTY && !values.json
    let lastPrinted = 0
    try {
      const { report, dir } = await runDemo({
        minutes,
        seed,
        keep: values.keep,
        signal: abort.signal,
        // One line, rewritten in place on a terminal; elsewhere a line every 30 s.
        progress: (line) => {
          if (tty) process.stderr.write(`\r\x1b[K${line.slice(0, (process.stderr.columns || 200) - 1)}`)
          else if (!values.json && Date.now() - lastPrinted >= 30_000) {
            lastPrinted = Date.now()
            process.stderr.write(`${line}\n`)
          }
        },
      })
      if (tty) process.stderr.write('\r\x1b[K')
      process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : renderReport(report))
      if (dir) process.stderr.write(`working folder kept: ${dir}\n`)
      return 0
    } finally {
      process.removeListener('SIGINT', interrupt)
      process.removeListener('SIGTERM', interrupt)
    }
  },
}
