import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { treeCpuSeconds, treePeakRssMb } from './cpu.js'
import { startDnsProcess } from './dns/start.js'
import { everyCheck } from './every-check.js'
import { findProgram, startSmtpSink } from './postfix-tools.js'
import { freePort } from './ports.js'
import { startRelayProcess } from './relay-process.js'
import type { RelayProcess } from './relay-process.js'
import { pairedRounds } from './rounds.js'
import { median } from './stats.js'
import { int, ms } from './common.js'

const USAGE = `Usage: node --import tsx test/bench/compare-builds.ts [options] <dist/main.js> <other dist/main.js> …

Two (or more) builds of the relay side by side in one run, under the same smtp-source load in
interleaved rounds (the order reversed every other round): msg/s, CPU per message and peak RSS
of each, with every check on (or none), and each round's ratio to the first build's run of that
round (their median).
A build may carry node flags of its own after its path, in one argument: one build under two
settings is compared as 'dist/main.js' 'dist/main.js --max-semi-space-size=64'.
Build the other one from a checkout of another commit:
  mkdir -p /tmp/base && git archive <commit> | tar -x -C /tmp/base && ln -s "$PWD/node_modules" /tmp/base/ && (cd /tmp/base && npx tsc -p tsconfig.build.json)

Options:
  --checks every|none   the relay's checks (default every; see every-check.ts)
  --rounds N            interleaved rounds (default 5)
  --messages N          messages per run (default 3000)
  --reuse               persistent sessions (smtp-source -d; default: a new connection per message)
  --relay-flags=FLAGS   node flags for every relay
`

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    checks: { type: 'string', default: 'every' },
    rounds: { type: 'string', default: '5' },
    messages: { type: 'string', default: '3000' },
    reuse: { type: 'boolean', default: false },
    'relay-flags': { type: 'string', default: '' },
    help: { type: 'boolean', short: 'h', default: false },
  },
})
if (values.help || positionals.length < 2) {
  process.stdout.write(USAGE)
  process.exit(values.help ? 0 : 1)
}

const source = await findProgram('smtp-source')
const sink = await startSmtpSink(await findProgram('smtp-sink'), await freePort())
const dns = await startDnsProcess()
const dir = await mkdtemp(join(os.tmpdir(), 'shg-compare-'))
const load = { sessions: 20, size: 5120, recipients: 1, reuse: values.reuse }
const label = load.reuse ? 'persistent sessions' : 'new connection per message'
const relays: { name: string; relay: RelayProcess }[] = []
try {
  for (const [i, build] of positionals.entries()) {
    const [path = '', ...flags] = build.split(/\s+/).filter(Boolean)
    const relay = await startRelayProcess({
      main: resolve(path),
      dir,
      sinkPort: sink.port,
      logLevel: 'info',
      poolSize: load.sessions,
      nodeFlags: [...values['relay-flags'].split(/\s+/).filter(Boolean), ...flags],
      patch: values.checks === 'every' ? (p) => everyCheck(p, dns.port) : undefined,
    })
    // The same build may be given twice (its spread between two processes): names stay apart.
    relays.push({ name: positionals.indexOf(build) === i ? build : `${build} (#${i + 1})`, relay })
  }
  const figures = await pairedRounds({
    source,
    relays: relays.map((r) => ({ name: r.name, port: r.relay.port, pid: r.relay.pid })),
    loads: [{ label, load }],
    rounds: Number(values.rounds),
    messages: Number(values.messages),
    cpu: treeCpuSeconds,
    baseline: relays[0]?.name ?? '',
  })
  process.stdout.write(
    `${values.checks} checks, ${label}, ${values.rounds} rounds of ${values.messages} messages, load average ${os.loadavg()[0]?.toFixed(1)}; ` +
      'medians, and the median of each round\'s ratio to the first build\n\n' +
      '| build | msg/s | CPU ms/msg | peak RSS MB | msg/s vs first | CPU vs first |\n|---|--:|--:|--:|--:|--:|\n' +
      relays
        .map((r) => {
          const f = figures(label, r.name)
          return (
            `| ${r.name} | ${int(median(f.rate))} | ${ms(median(f.cpuUs) / 1000)} | ${int(treePeakRssMb(r.relay.pid) ?? NaN)} | ` +
            `${(median(f.ratio) * 100).toFixed(0)} % | ${(median(f.cpuRatio) * 100).toFixed(0)} % |`
          )
        })
        .join('\n') +
      '\n',
  )
} finally {
  await Promise.all(relays.map((r) => r.relay.stop()))
  await sink.stop()
  await dns.stop()
  await rm(dir, { recursive: true, force: true })
}
