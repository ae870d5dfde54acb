import { CRACKED, RECIPIENT_DOMAINS } from '../isp.js'
import { composeMessage, messageId, personalText, spamText } from '../messages.js'
import type { Prng } from '../prng.js'
import type { DemoContext, Profile } from '../profile.js'
import { until } from '../profile.js'
import { openSession, plainAuth, sendMessage } from '../session.js'
import type { Outcome } from '../session.js'
import { Tally } from '../tally.js'

/** Passwords the guessers try (none is right). */
const GUESSES = 30
/** Guesses per connection before the guesser reconnects (under the relay's per-session limit of 3). */
const PER_SESSION = 2

/** What became of the intruder, for the report. */
export interface IntruderRecord {
  logins: number
  loginsRefused: number
  spamAccepted: number
  spamRefused: number
  /** ms since the demo's start of the last spam accepted, and of the first refusal after a login. */
  lastAcceptedMs: number | null
  firstStoppedMs: number | null
}

/** The cracked-account profile with the intruder's own figures. */
export type CrackedProfile = ReturnType<typeof crackedAccount>

/**
 * An account under attack: its owner sends from home all along (logged in on submission);
 * from 10% of the run, guessers on six internet addresses try passwords; from 40%, an
 * intruder logs in with the real password from a new address and sends spam as fast as it can.
 */
export function crackedAccount(clock: () => number) {
  const tally = new Tally(clock)
  const intruder: IntruderRecord = { logins: 0, loginsRefused: 0, spamAccepted: 0, spamRefused: 0, lastAcceptedMs: null, firstStoppedMs: null }
  const owner = async (ctx: DemoContext, r: Prng) => {
    // The owner's mail client sends first right away: the account has a usual address before any attack.
    for (let first = true; ; first = false) {
      await ctx.sleep(first ? 2_000 : r.exponential(20_000))
      if (!ctx.running()) return
      const [subject, body] = personalText(r)
      const to = [`${r.pick(['tom', 'sue', 'mum'])}@${r.pick(RECIPIENT_DOMAINS)}`]
      const data = composeMessage({ from: `carol <${CRACKED.user}>`, to, subject, date: new Date(), messageId: messageId(r, 'example.net'), body })
      const s = await openSession({ port: ctx.ports.submission, from: CRACKED.owner, helo: 'carols-laptop', tls: true, auth: { user: CRACKED.user, password: CRACKED.password } })
      if (!s.client) {
        tally.message(s.failed, true)
        continue
      }
      tally.message(await sendMessage(s.client, { sender: CRACKED.user, recipients: to, data }), true)
      await s.client.quit()
    }
  }
  const guessers = async (ctx: DemoContext, r: Prng, gapMs: number) => {
    tally.abuse()
    for (let g = 0; g < GUESSES && ctx.running(); ) {
      const from = CRACKED.guessers[Math.floor(g / PER_SESSION) % CRACKED.guessers.length] ?? ''
      const s = await openSession({ port: ctx.ports.submission, from, helo: r.word(8), tls: true })
      if (!s.client) {
        tally.authReply(s.failed)
        g++
        continue
      }
      for (let k = 0; k < PER_SESSION && g < GUESSES && ctx.running() && !s.client.closed; k++, g++) {
        await ctx.sleep(gapMs)
        const reply = await s.client.cmd(plainAuth(CRACKED.user, `${r.pick(['Summer', 'Winter', 'carol', 'Password'])}${r.int(1, 9999)}!`))
        tally.authReply(reply.code === 235 ? null : { accepted: false, step: 'auth', reply })
      }
      await s.client.quit()
    }
  }
  const intrude = async (ctx: DemoContext, r: Prng) => {
    while (ctx.running()) {
      const s = await openSession({ port: ctx.ports.submission, from: CRACKED.intruder, helo: r.word(8), tls: true, auth: { user: CRACKED.user, password: CRACKED.password } })
      if (!s.client) {
        const failed: Outcome = s.failed
        if (failed.step === 'auth') {
          tally.authReply(failed)
          intruder.loginsRefused++
          intruder.firstStoppedMs ??= intruder.logins > 0 ? ctx.clock() : null
        }
        await ctx.sleep(5_000)
        continue
      }
      tally.authReply(null)
      intruder.logins++
      while (ctx.running() && !s.client.closed) {
        const [subject, body] = spamText(r)
        const to = Array.from({ length: r.int(1, 5) }, () => `${r.word(7)}@${r.pick(RECIPIENT_DOMAINS)}`)
        const data = composeMessage({ from: `carol <${CRACKED.user}>`, to, subject, date: new Date(), messageId: messageId(r, 'example.net'), body })
        const o = await sendMessage(s.client, { sender: CRACKED.user, recipients: to, data })
        tally.message(o, false)
        if (o.accepted) {
          intruder.spamAccepted++
          intruder.lastAcceptedMs = ctx.clock()
        } else {
          intruder.spamRefused++
          intruder.firstStoppedMs ??= ctx.clock()
        }
        if (o.reply.code === 421 || o.reply.code === 0) break
      }
      s.client.close()
      await ctx.sleep(1_000)
    }
  }
  return {
    name: 'cracked-account',
    description: `${CRACKED.user}: its owner sends from home (${CRACKED.owner}); ${GUESSES} password guesses from ${CRACKED.guessers.length} internet addresses, then a login with the real password from ${CRACKED.intruder} and spam`,
    legitimacy: 'mixed' as const,
    addresses: [CRACKED.owner, ...CRACKED.guessers, CRACKED.intruder],
    users: [CRACKED.user],
    innocent: [CRACKED.owner],
    domains: [],
    tally,
    intruder,
    async run(ctx: DemoContext, rnd: Prng) {
      tally.start()
      // The guesses fill at most a quarter of the run; the intruder comes after them.
      const gapMs = Math.min(1_500, (ctx.durationMs * 0.25) / GUESSES)
      const guessing = async () => {
        await until(ctx, ctx.durationMs * 0.1)
        if (ctx.running()) await guessers(ctx, rnd.fork(2), gapMs)
      }
      // The password was learnt elsewhere (phishing, a leak): the intruder comes whatever the guessers achieved.
      const intrusion = async () => {
        await until(ctx, ctx.durationMs * 0.4)
        if (ctx.running()) await intrude(ctx, rnd.fork(3))
      }
      await Promise.all([owner(ctx, rnd.fork(1)), guessing(), intrusion()])
    },
  } satisfies Profile & { intruder: IntruderRecord }
}
