import { OFFICE, RECIPIENT_DOMAINS } from '../isp.js'
import { businessText, composeMessage, messageId } from '../messages.js'
import type { Prng } from '../prng.js'
import type { DemoContext, Profile } from '../profile.js'
import { openSession, sendMessage } from '../session.js'
import { Tally } from '../tally.js'

/** A small office's mail server: its own domain, whose SPF names the office's address only. */
export function office(clock: () => number): Profile {
  const tally = new Tally(clock)
  return {
    name: 'office',
    description: `a small office (business-static ${OFFICE.address}), ${OFFICE.domain} whose SPF names its own address, not the relay; about 6 messages a minute on port 25`,
    legitimacy: 'legitimate',
    addresses: [OFFICE.address],
    users: [],
    innocent: [OFFICE.address],
    domains: [OFFICE.domain],
    tally,
    async run(ctx: DemoContext, rnd: Prng) {
      tally.start()
      await Promise.all(
        OFFICE.staff.map(async (name, i) => {
          const r = rnd.fork(i)
          for (;;) {
            await ctx.sleep(r.exponential(40_000))
            if (!ctx.running()) return
            const sender = `${name}@${OFFICE.domain}`
            const [subject, body] = businessText(r)
            const to = Array.from({ length: r.int(1, 3) }, () => `${r.pick(['info', 'sales', 'orders', 'office'])}@${r.pick(RECIPIENT_DOMAINS)}`)
            const data = composeMessage({ from: `${name} <${sender}>`, to, subject, date: new Date(), messageId: messageId(r, OFFICE.domain), body })
            const s = await openSession({ port: ctx.ports.smtp, from: OFFICE.address, helo: OFFICE.helo, tls: true })
            if (!s.client) {
              tally.message(s.failed, true)
              continue
            }
            tally.message(await sendMessage(s.client, { sender, recipients: to, data }), true)
            await s.client.quit()
          }
        }),
      )
    },
  }
}
