import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startZoneServer } from '../dns/zone-server.js'
import { placeDemoPolicy } from './policy.js'
import { Prng } from './prng.js'
import type { DemoContext, Profile } from './profile.js'
import { bot } from './profiles/bot.js'
import { crackedAccount } from './profiles/cracked.js'
import { hostedExchange } from './profiles/exchange.js'
import { homeUsers } from './profiles/home.js'
import { newsletter } from './profiles/newsletter.js'
import { office } from './profiles/office.js'
import { startRelay } from './relay-process.js'
import { buildReport } from './report.js'
import type { DemoReport } from './report.js'
import { startSink } from './sink.js'
import { startReceiver } from './webhook-receiver.js'
import { demoZones } from './zones.js'

/** How a demo run is asked for. */
export interface DemoOptions {
  minutes: number
  seed: number
  /** Keep the working folder (policy, relay log, alerts) and say where it is. */
  keep?: boolean
  /** Called about once a second with the progress line. */
  progress?: (line: string) => void
  /** Aborts the run early (Ctrl-C); the report covers what was played. */
  signal?: AbortSignal
}

/** Incidents are evaluated every few seconds: after the last message, wait this long for the last ones. */
const INCIDENT_GRACE_MS = 7_000

/** A free TCP port on 127.0.0.1 for the relay's listeners (it binds them itself, in its own process). */
async function freePort(): Promise<number> {
  const s = createServer()
  s.listen(0, '127.0.0.1')
  await once(s, 'listening')
  const port = (s.address() as AddressInfo).port
  await new Promise<void>((resolve) => s.close(() => resolve()))
  return port
}

const clockLabel = (ms: number) => `${Math.floor(ms / 60_000)}:${String(Math.floor((ms % 60_000) / 1000)).padStart(2, '0')}`

/**
 * Plays the demo ISP against the relay on the shipped demo policy: a DNS server with the demo
 * zones, a sink, a webhook receiver and the relay (a child process), all on loopback; every
 * profile at once for `minutes`; then the report.
 */
export async function runDemo(o: DemoOptions): Promise<{ report: DemoReport; dir: string | null }> {
  const durationMs = Math.round(o.minutes * 60_000)
  const dir = await mkdtemp(join(tmpdir(), 'smarthost-guard-demo-'))
  let t0 = Date.now()
  const clock = () => Date.now() - t0
  const cleanups: (() => Promise<void>)[] = []
  try {
    const dns = await startZoneServer({ zones: demoZones(), record: false })
    cleanups.push(() => dns.close())
    const sink = await startSink()
    cleanups.push(() => sink.close())
    const receiver = await startReceiver(clock)
    cleanups.push(() => receiver.close())
    const places = { smtp: await freePort(), submission: await freePort(), admin: await freePort() }
    const policy = await placeDemoPolicy(dir, { ...places, sink: sink.port, dns: dns.server, webhookUrl: receiver.url, webhookSecret: receiver.secret })
    const relay = await startRelay(policy, places.admin, join(dir, 'relay.log'))
    cleanups.unshift(() => relay.stop())

    const profiles: Profile[] = [homeUsers(clock), office(clock), newsletter(clock), hostedExchange(clock), bot(clock), crackedAccount(clock)]
    const rnd = new Prng(o.seed)
    const forks = profiles.map((_, i) => rnd.fork(i + 1))
    let stopped = false
    const sleepers = new Set<() => void>()
    const stop = () => {
      stopped = true
      for (const wake of sleepers) wake()
    }
    t0 = Date.now()
    const ctx: DemoContext = {
      ports: { smtp: places.smtp, submission: places.submission },
      durationMs,
      clock,
      running: () => !stopped && clock() < durationMs,
      sleep: (ms) =>
        new Promise<void>((resolve) => {
          if (stopped) return resolve()
          const wake = () => {
            clearTimeout(timer)
            sleepers.delete(wake)
            resolve()
          }
          const timer = setTimeout(wake, Math.min(ms, Math.max(0, durationMs - clock())))
          sleepers.add(wake)
        }),
    }
    const deadline = setTimeout(stop, durationMs)
    o.signal?.addEventListener('abort', stop, { once: true })
    const ticker = setInterval(() => {
      const parts = profiles.map((p) => `${p.name} ${p.tally.accepted}/${p.tally.attempted}`)
      const incidents = new Set(receiver.events.map((e) => e.id)).size
      o.progress?.(`[${clockLabel(Math.min(clock(), durationMs))}/${clockLabel(durationMs)}] accepted/attempted: ${parts.join(' · ')} · incidents ${incidents}`)
    }, 1000)
    try {
      await Promise.all(profiles.map((p, i) => p.run(ctx, forks[i] as Prng)))
      // Incidents still being evaluated or delivered for the last minute's traffic.
      if (!o.signal?.aborted) await new Promise((resolve) => setTimeout(resolve, INCIDENT_GRACE_MS))
    } finally {
      clearTimeout(deadline)
      clearInterval(ticker)
    }
    const report = buildReport({ seed: o.seed, minutes: o.minutes, relayed: sink.received, profiles, events: receiver.events })
    return { report, dir: o.keep ? dir : null }
  } finally {
    for (const c of cleanups) await c().catch(() => undefined)
    if (!o.keep) await rm(dir, { recursive: true, force: true })
  }
}
