import { HOME_USERS, RECIPIENT_DOMAINS } from '../isp.js'
import { composeMessage, messageId, personalText } from '../messages.js'
import type { Prng } from '../prng.js'
import type { DemoContext, Profile } from '../profile.js'
import { openSession, sendMessage } from '../session.js'
import { Tally } from '../tally.js'

/** Home users: a few messages a minute each, logged in on submission, as a mail client sends them. */
export function homeUsers(clock: () => number): Profile {
  const tally = new Tally(clock)
  return {
    name: 'home-users',
    description: `${HOME_USERS.length} home lines (residential-dynamic), each a mailbox at the ISP, about 3 messages a minute each over submission with AUTH`,
    legitimacy: 'legitimate',
    addresses: HOME_USERS.map((u) => u.address),
    users: HOME_USERS.map((u) => u.user),
    innocent: HOME_USERS.map((u) => u.address),
    domains: [],
    tally,
    async run(ctx: DemoContext, rnd: Prng) {
      tally.start()
      await Promise.all(
        HOME_USERS.map(async (u, i) => {
          const r = rnd.fork(i)
          for (;;) {
            await ctx.sleep(r.exponential(20_000))
            if (!ctx.running()) return
            const [subject, body] = personalText(r)
            const to = Array.from({ length: r.int(1, 2) }, () => `${r.pick(['tom', 'sue', 'mum', 'dad', 'jo', 'kim'])}@${r.pick(RECIPIENT_DOMAINS)}`)
            const data = composeMessage({ from: `${u.name} <${u.user}>`, to, subject, date: new Date(), messageId: messageId(r, 'example.net'), body })
            const s = await openSession({ port: ctx.ports.submission, from: u.address, helo: `DESKTOP-${u.name.toUpperCase()}`, tls: true, auth: { user: u.user, password: u.password } })
            if (!s.client) {
              tally.message(s.failed, true)
              continue
            }
            tally.message(await sendMessage(s.client, { sender: u.user, recipients: to, data }), true)
            await s.client.quit()
          }
        }),
      )
    },
  }
}
