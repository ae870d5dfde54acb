import { NEWSLETTER, RECIPIENT_DOMAINS } from '../isp.js'
import { composeMessage, messageId } from '../messages.js'
import type { Prng } from '../prng.js'
import type { DemoContext, Profile } from '../profile.js'
import { until } from '../profile.js'
import { openSession, sendMessage } from '../session.js'
import { Tally } from '../tally.js'

/** Messages in a mailing, and how long it takes to send them. */
const MAILING = 600
const MAILING_MS = 120_000
/** Messages per connection, then a new one (what bulk mailers do). */
const PER_SESSION = 100
const CONNECTIONS = 2

/** A newsletter: one mailing of 600 messages in 2 minutes, List-Unsubscribe, one consistent sender. */
export function newsletter(clock: () => number): Profile {
  const tally = new Tally(clock)
  return {
    name: 'newsletter',
    description: `a newsletter sender (business-static ${NEWSLETTER.address}): ${MAILING} messages in ${MAILING_MS / 60_000} minutes from ${NEWSLETTER.sender}, List-Unsubscribe, SPF naming its own address`,
    legitimacy: 'legitimate',
    addresses: [NEWSLETTER.address],
    users: [],
    innocent: [NEWSLETTER.address],
    domains: ['news.shop.example', 'shop.example'],
    tally,
    async run(ctx: DemoContext, rnd: Prng) {
      await until(ctx, ctx.durationMs * 0.1)
      if (!ctx.running()) return
      tally.start()
      const t0 = ctx.clock()
      const per = MAILING / CONNECTIONS
      await Promise.all(
        Array.from({ length: CONNECTIONS }, async (_, c) => {
          const r = rnd.fork(c)
          let sent = 0
          const paced = () => until(ctx, t0 + ((sent * CONNECTIONS + c) * MAILING_MS) / MAILING)
          while (sent < per && ctx.running()) {
            await paced()
            const s = await openSession({ port: ctx.ports.smtp, from: NEWSLETTER.address, helo: NEWSLETTER.helo, tls: true })
            if (!s.client) {
              tally.message(s.failed, true)
              sent++
              continue
            }
            for (let k = 0; k < PER_SESSION && sent < per && ctx.running() && !s.client.closed; k++) {
              // Evenly paced: message n of the mailing leaves at n / MAILING of its time.
              await paced()
              if (!ctx.running()) break
              const n = sent * CONNECTIONS + c
              const to = `reader${n}@${r.pick(RECIPIENT_DOMAINS)}`
              const id = messageId(r, 'news.shop.example')
              const data = composeMessage({
                from: `Shop News <${NEWSLETTER.from}>`,
                to: [to],
                subject: 'Our December offers',
                date: new Date(),
                messageId: id,
                extra: {
                  'List-Id': 'Shop News <news.shop.example>',
                  'List-Unsubscribe': `<https://shop.example/unsubscribe?r=${n}>, <mailto:unsubscribe@shop.example?subject=${n}>`,
                  'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
                },
                body: 'Hello,\n\nthis month: winter boots, scarves and a 10% discount for subscribers.\n\nTo stop receiving this newsletter, use the unsubscribe link in your mail program.\n',
              })
              tally.message(await sendMessage(s.client, { sender: NEWSLETTER.sender, recipients: [to], data }), true)
              sent++
            }
            await s.client.quit()
          }
        }),
      )
    },
  }
}
