import { z } from 'zod'
import { cidr, ipAddress } from '../config/units.js'
import { evaluateSpf } from '../dns/spf.js'
import type { SpfOutcome, SpfResultName } from '../dns/spf.js'
import { hostedSenderNotLoggedIn, spfForgedSender, spfPermError } from '../errors/replies.js'
import { spfOutboundResultsFor, spfResultsFor } from '../metrics/dns-check-metrics.js'
import type { Verdict } from '../pipeline/types.js'
import { defineCheck } from '../pipeline/types.js'
import { splitAddress } from '../relay/address.js'
import { NetworkList } from '../relay/networks.js'
import { actionFor, classActions } from './class-action.js'
import { combineFindings } from './combine-findings.js'
import { spfResultOptions, spfVerdict } from './spf-options.js'
import type { SpfResultConfig } from './spf-options.js'
import { FLAG_FORGED, FLAG_RELAY_NOT_AUTHORIZED, twoSided } from './spf-two-sided.js'

// Outbound SPF from both sides. For the MAIL FROM domain we evaluate SPF for the customer's own
// address (may this client send for the domain?) and for our egress addresses (will the
// destination accept it from us?). A bot claiming to be a bank fails both and is refused before
// our addresses carry it; a business customer whose SPF names its own line but not the relay
// passes as a client and fails as egress: we relay it, flag it and count it per sender domain, so
// the desk can ask the customer to add the relay (it is not the customer's fault). Senders
// claiming one of the ISP's own hosted domains must log in (or come from a network allowed for
// that domain): the ISP's SPF record authorizes our egress for them, so SPF cannot catch that forgery.

/** From worst to best for the relayed mail: one failing egress address fails the sender. */
const RANK: SpfResultName[] = ['fail', 'temperror', 'permerror', 'softfail', 'neutral', 'none', 'pass']

/** mail.spf_outbound: the sender domain's SPF for the client and for our egress addresses. Verdicts: reject, tempfail, tag, continue. */
export const spfOutbound = defineCheck({
  id: 'mail.spf_outbound',
  stage: 'mail',
  description:
    'SPF of the MAIL FROM domain for the client and for our egress addresses: both fail is a forged sender (550 5.7.23); client pass and egress fail ' +
    'is relayed and flagged SPF_RELAY_NOT_AUTHORIZED (the domain must add the relay); senders of hosted domains must log in.',
  options: z.strictObject({
    forged: classActions('reject').describe(
      'Forged sender: SPF fails for our egress and does not pass for the client (fail, softfail, neutral, none or permerror): action per client class (reject: 550 5.7.23)',
    ),
    relay_not_authorized: classActions({ tag: 0 }).describe(
      'SPF passes for the client but fails for our egress: a customer whose SPF lacks the relay. Action per client class; a tag (default, score 0) relays it with ' +
        'flag SPF_RELAY_NOT_AUTHORIZED, counted per sender domain for `smarthost-guard stats spf`; reject: 550 5.7.23',
    ),
    softfail: spfResultOptions.softfail,
    neutral: spfResultOptions.neutral,
    none: spfResultOptions.none,
    permerror: spfResultOptions.permerror,
    temperror: spfResultOptions.temperror,
    deadline: spfResultOptions.deadline,
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
    // The shared per-result options, with fail meaning forged (spfVerdict only sees egress results other than pass and fail).
    const perResult: SpfResultConfig = { ...config, fail: config.forged }
    return async function spfForClientAndEgress(ctx): Promise<Verdict> {
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
      // The session's client address is the real client's, behind a PROXY-protocol balancer too.
      const client = ctx.session.client.address
      const evaluate = (ip: string) =>
        evaluateSpf(deps.resolver, { sender, identity: 'mailfrom', ip, helo: deps.dns.hostname, hostname: deps.dns.hostname }, config.deadline)
      // One evaluation per address, all at once: a client that is one of our egress addresses is evaluated once.
      const runs = new Map<string, Promise<SpfOutcome>>()
      for (const ip of [client, ...egress]) if (!runs.has(ip)) runs.set(ip, evaluate(ip))
      const outcomes = new Map(await Promise.all([...runs].map(async ([ip, run]) => [ip, await run] as const)))
      const egressOutcomes = egress.map((ip) => ({ ip, outcome: outcomes.get(ip)! }))
      const clientOutcome = outcomes.get(client)!
      const worst = egressOutcomes.reduce((a, b) => (RANK.indexOf(b.outcome.result) < RANK.indexOf(a.outcome.result) ? b : a))
      const result = twoSided(worst.outcome.result, clientOutcome.result)
      const instance = ctx.session.instance
      spfResultsFor(instance, 'mail.spf_outbound', 'egress', worst.outcome.result).inc()
      spfResultsFor(instance, 'mail.spf_outbound', 'client', clientOutcome.result).inc()
      spfOutboundResultsFor(instance, result).inc()
      const detail = `${domain}: egress ${egressOutcomes.map((o) => `${o.outcome.result} for ${o.ip}`).join(', ')}; client ${clientOutcome.result} for ${client}`
      const refuse = (temporary: boolean) => spfForgedSender(domain, worst.ip, 'fail', temporary)
      // For Authentication-Results: the result the destination will see, from our egress.
      const authResults = [{ method: 'spf', result: worst.outcome.result, comment: `egress ${worst.ip}`, props: { 'smtp.mailfrom': sender } }]
      const verdictFor = (): Verdict => {
        switch (result) {
          case 'forged':
            return combineFindings([{ flag: FLAG_FORGED, detail: 'forged sender', action: actionFor(config.forged, klass), reply: refuse }], detail, klass)
          case 'relay_not_authorized': {
            const action = actionFor(config.relay_not_authorized, klass)
            return combineFindings([{ flag: FLAG_RELAY_NOT_AUTHORIZED, detail: 'the domain\u2019s SPF lacks this relay', action, reply: refuse }], detail, klass)
          }
          default: {
            const outcome: SpfOutcome = result === 'pass' ? worst.outcome : { ...worst.outcome, result }
            return spfVerdict(outcome, perResult, klass, detail, {
              refuse: (temporary) => spfForgedSender(domain, worst.ip, outcome.result, temporary),
              permerror: (temporary) => spfPermError(domain, temporary),
            })
          }
        }
      }
      return { ...verdictFor(), authResults }
    }
  },
})
