import { z } from 'zod'
import { cidr, ipAddress } from '../config/units.js'
import { evaluateSpf } from '../dns/spf.js'
import type { SpfOutcome, SpfResultName } from '../dns/spf.js'
import { hostedSenderNotLoggedIn, spfForgedSender, spfPermError } from '../errors/replies.js'
import { spfResultsFor } from '../metrics/dns-check-metrics.js'
import type { Verdict } from '../pipeline/types.js'
import { defineCheck } from '../pipeline/types.js'
import { splitAddress } from '../relay/address.js'
import { NetworkList } from '../relay/networks.js'
import { actionFor, classActions } from './class-action.js'
import { combineFindings } from './combine-findings.js'
import { spfResultOptions, spfVerdict } from './spf-options.js'

// Outbound SPF: would the mail we relay pass SPF at its destination? We evaluate the MAIL
// FROM domain's SPF for our own egress addresses (where the next hop sends from), not for the
// customer's: a bot that claims to be a bank fails here, and relaying it would put the ISP's
// addresses on the block lists. Senders claiming one of the ISP's own hosted domains must
// log in (or come from a network allowed for that domain): the ISP's SPF record authorizes
// our egress for them, so SPF alone cannot catch that forgery.

/** From worst to best for the relayed mail: one failing egress address fails the sender. */
const RANK: SpfResultName[] = ['fail', 'temperror', 'permerror', 'softfail', 'neutral', 'none', 'pass']

/** mail.spf_outbound: the sender domain's SPF for our egress addresses. Verdicts: reject, tempfail, tag, continue. */
export const spfOutbound = defineCheck({
  id: 'mail.spf_outbound',
  stage: 'mail',
  description:
    'SPF of the MAIL FROM domain for our egress addresses (fail: 550 5.7.23, the domain does not allow this relay); senders of hosted domains must log in.',
  options: z.strictObject({
    ...spfResultOptions,
    egress: z.array(ipAddress()).optional().describe('Egress addresses to evaluate for; default: egress.addresses'),
    hosted_domains: z
      .record(
        z.string().regex(/^\.?[a-z0-9.-]+$/i, 'a domain, or .domain for its subdomains'),
        z
          .strictObject({
            networks: z.array(cidr()).default([]).describe('Clients in these networks may send as this domain without logging in'),
          })
          .prefault({}),
      )
      .default({})
      .describe('The ISP\u2019s hosted domains (.domain: its subdomains): their senders must log in or be in the domain\u2019s networks'),
    not_logged_in: classActions('reject').describe('A hosted domain\u2019s sender that did not log in: action per client class (reject: 553 5.7.1)'),
  }),
  create: (config, deps) => {
    const egress = config.egress ?? deps.dns.egress
    if (egress.length === 0) throw new Error('mail.spf_outbound needs egress addresses (egress.addresses or its egress option)')
    const hosted = Object.entries(config.hosted_domains).map(([pattern, d]) => ({
      pattern: pattern.toLowerCase(),
      networks: new NetworkList(d.networks),
    }))
    const hostedEntry = (domain: string) =>
      hosted.find((h) => (h.pattern.startsWith('.') ? domain.endsWith(h.pattern) : domain === h.pattern))
    return async function spfForEgress(ctx): Promise<Verdict> {
      const sender = ctx.tx?.mailFrom ?? ''
      const klass = ctx.session.clientClass
      // Bounces claim no domain: nothing to evaluate (RFC 7208 would use the HELO, which is the customer's).
      if (!sender) return { kind: 'continue', detail: 'null sender' }
      const domain = splitAddress(sender).domain.toLowerCase()
      const own = hostedEntry(domain)
      if (own) {
        if (ctx.session.user) return { kind: 'continue', detail: `hosted domain ${domain}, logged in as ${ctx.session.user}` }
        if (own.networks.has(ctx.session.client.address)) return { kind: 'continue', detail: `hosted domain ${domain}, client in its networks` }
        const finding = {
          flag: 'SENDER_NOT_LOGGED_IN',
          detail: `hosted domain ${domain} without login`,
          action: actionFor(config.not_logged_in, klass),
          reply: () => hostedSenderNotLoggedIn(sender),
        }
        return combineFindings([finding], '', klass)
      }
      const outcomes = await Promise.all(
        egress.map(async (ip) => ({
          ip,
          outcome: await evaluateSpf(deps.resolver, { sender, identity: 'mailfrom', ip, helo: deps.dns.hostname, hostname: deps.dns.hostname }, config.deadline),
        })),
      )
      const worst = outcomes.reduce((a, b) => (RANK.indexOf(b.outcome.result) < RANK.indexOf(a.outcome.result) ? b : a))
      spfResultsFor(ctx.session.instance, 'mail.spf_outbound', worst.outcome.result).inc()
      const detail = outcomes.map((o) => `${o.outcome.result} for ${o.ip}`).join(', ')
      const outcome: SpfOutcome = worst.outcome
      const verdict = spfVerdict(outcome, config, klass, `${domain}: ${detail}`, {
        refuse: (temporary) => spfForgedSender(domain, worst.ip, outcome.result, temporary),
        permerror: (temporary) => spfPermError(domain, temporary),
      })
      // For Authentication-Results: the result the destination will see, from our egress.
      const authResult = { method: 'spf', result: outcome.result, comment: `egress ${worst.ip}`, props: { 'smtp.mailfrom': sender } }
      return { ...verdict, authResults: [authResult] }
    }
  },
})
