import { EXCHANGE, RECIPIENT_DOMAINS } from '../isp.js'
import { businessText, composeMessage, messageId, spamText } from '../messages.js'
import type { Prng } from '../prng.js'
import type { DemoContext, Profile } from '../profile.js'
import { until } from '../profile.js'
import { openSession, sendMessage } from '../session.js'
import { Tally } from '../tally.js'

/**
 * A hosted Exchange: normal mail throughout; from a quarter of the run on it also bounces spam
 * it accepted to the forged senders (backscatter: null sender, many domains), every 2 s or so.
 */
export function hostedExchange(clock: () => number): Profile {
  const tally = new Tally(clock)
  const send = async (ctx: DemoContext, m: { sender: string; recipients: string[]; data: string }, legitimate: boolean) => {
    const s = await openSession({ port: ctx.ports.smtp, from: EXCHANGE.address, helo: EXCHANGE.helo, tls: true })
    if (!s.client) return tally.message(s.failed, legitimate)
    tally.message(await sendMessage(s.client, m), legitimate)
    await s.client.quit()
  }
  return {
    name: 'exchange',
    description: `a hosted Exchange (trusted-server ${EXCHANGE.address}) for ${EXCHANGE.domain}: normal mail, then from 25% of the run on also DSNs to forged senders (null sender, many domains)`,
    legitimacy: 'mixed',
    addresses: [EXCHANGE.address],
    users: [],
    innocent: [],
    domains: [EXCHANGE.domain],
    tally,
    async run(ctx: DemoContext, rnd: Prng) {
      tally.start()
      const normal = async (r: Prng) => {
        for (;;) {
          await ctx.sleep(r.exponential(10_000))
          if (!ctx.running()) return
          const name = r.pick(EXCHANGE.staff)
          const sender = `${name}@${EXCHANGE.domain}`
          const [subject, body] = businessText(r)
          const to = [`${r.pick(['counsel', 'client', 'court'])}@${r.pick(RECIPIENT_DOMAINS)}`]
          const data = composeMessage({ from: `${name} <${sender}>`, to, subject, date: new Date(), messageId: messageId(r, EXCHANGE.domain), body })
          await send(ctx, { sender, recipients: to, data }, true)
        }
      }
      const backscatter = async (r: Prng) => {
        await until(ctx, ctx.durationMs * 0.25)
        if (!ctx.running()) return
        tally.abuse()
        for (;;) {
          await ctx.sleep(r.exponential(2_000))
          if (!ctx.running()) return
          // The spam claimed a random sender; the DSN goes back to that forged address.
          const forged = `${r.word(7)}@${r.word(8)}.example.com`
          const [subject, spam] = spamText(r)
          const data = composeMessage({
            from: `Mail Delivery System <MAILER-DAEMON@${EXCHANGE.helo}>`,
            to: [forged],
            subject: `Undeliverable: ${subject}`,
            date: new Date(),
            messageId: messageId(r, EXCHANGE.helo),
            extra: { 'Auto-Submitted': 'auto-replied' },
            body: `Delivery has failed to these recipients or groups:\n\n${r.word(6)}@${EXCHANGE.domain}\nThe e-mail address you entered couldn't be found.\n\n--- Original message ---\nSubject: ${subject}\n\n${spam}\n`,
          })
          await send(ctx, { sender: '', recipients: [forged], data }, false)
        }
      }
      await Promise.all([normal(rnd.fork(1)), backscatter(rnd.fork(2))])
    },
  }
}
