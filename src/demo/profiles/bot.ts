import { BANK_DOMAIN, BOT, RECIPIENT_DOMAINS } from '../isp.js'
import { composeMessage, spamText } from '../messages.js'
import type { Prng } from '../prng.js'
import type { DemoContext, Profile } from '../profile.js'
import { until } from '../profile.js'
import { openSession, sendMessage } from '../session.js'
import { Tally } from '../tally.js'

/** Parallel connections the bot keeps going. */
const CONNECTIONS = 4

/** A random EHLO name, as spam bots make them up. */
function randomHelo(r: Prng): string {
  const kind = r.int(0, 2)
  if (kind === 0) return r.word(r.int(5, 10))
  if (kind === 1) return `[${r.int(1, 223)}.${r.int(0, 255)}.${r.int(0, 255)}.${r.int(1, 254)}]`
  return `${r.word(6)}.${r.pick(['com', 'net', 'info', 'ru'])}`
}

/**
 * A spam bot on an infected home line: from 15% of the run on, forged and random senders (a
 * third of them the DMARC p=reject bank), From: often the bank, no Message-ID, a random HELO
 * (on a third of its connections sent before the greeting), as fast as it can on several
 * connections; a refused connection is opened again at once.
 */
export function bot(clock: () => number): Profile {
  const tally = new Tally(clock)
  return {
    name: 'bot',
    description: `a spam bot on a home line (residential-dynamic ${BOT.address}): forged senders incl. ${BANK_DOMAIN} (DMARC p=reject), no Message-ID, random HELO (often before the greeting), ${CONNECTIONS} connections, as fast as it can`,
    legitimacy: 'abusive',
    addresses: [BOT.address],
    users: [],
    innocent: [],
    domains: [],
    tally,
    async run(ctx: DemoContext, rnd: Prng) {
      await until(ctx, ctx.durationMs * 0.15)
      if (!ctx.running()) return
      tally.start(true)
      await Promise.all(
        Array.from({ length: CONNECTIONS }, async (_, c) => {
          const r = rnd.fork(c)
          while (ctx.running()) {
            // One connection in three does not wait for the greeting.
            const s = await openSession({ port: ctx.ports.smtp, from: BOT.address, helo: randomHelo(r), earlyTalk: r.next() < 0.33 })
            if (!s.client) {
              tally.message(s.failed, false)
              // Not a busy loop on the demo's two cores: a bot's reconnect still takes a moment.
              await ctx.sleep(100)
              continue
            }
            while (ctx.running() && !s.client.closed) {
              const bank = r.next() < 0.33
              const random = `${r.word(8)}@${r.word(9)}.example`
              const sender = bank ? `security@${BANK_DOMAIN}` : random
              const from = bank || r.next() < 0.5 ? `"${BANK_DOMAIN} Security" <security@${BANK_DOMAIN}>` : random
              const to = Array.from({ length: r.int(1, 3) }, () => `${r.word(7)}@${r.pick(RECIPIENT_DOMAINS)}`)
              const [subject, body] = spamText(r)
              const data = composeMessage({ from, to, subject, date: r.next() < 0.5 ? new Date() : null, messageId: null, body })
              const o = await sendMessage(s.client, { sender, recipients: to, data })
              tally.message(o, false)
              if (o.reply.code === 421 || o.reply.code === 0) break
            }
            s.client.close()
          }
        }),
      )
    },
  }
}
