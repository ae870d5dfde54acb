import { z } from 'zod'
import { evaluateSpf } from '../dns/spf.js'
import { spfFail, spfPermError } from '../errors/replies.js'
import { spfResultsFor } from '../metrics/dns-check-metrics.js'
import type { Verdict } from '../pipeline/types.js'
import { defineCheck } from '../pipeline/types.js'
import { splitAddress } from '../relay/address.js'
import { spfResultOptions, spfVerdict } from './spf-options.js'

/** mail.spf_inbound: SPF of the MAIL FROM domain for the client address. Verdicts: reject, tempfail, tag, continue; adds Received-SPF and Authentication-Results. */
export const spfInbound = defineCheck({
  id: 'mail.spf_inbound',
  stage: 'mail',
  description:
    'SPF of the MAIL FROM domain (the HELO for bounces) for the client address, with Received-SPF and Authentication-Results fields; fail: 550 5.7.23 by default.',
  options: z.strictObject({
    ...spfResultOptions,
    add_headers: z.boolean().default(true).describe('Add Received-SPF and Authentication-Results to the relayed message'),
  }),
  create: (config, deps) =>
    async function spfForClient(ctx): Promise<Verdict> {
      const helo = ctx.session.helo ?? ''
      const mailFrom = ctx.tx?.mailFrom ?? ''
      // RFC 7208 section 2.4: for the null sender, the HELO identity is checked as postmaster@helo.
      const sender = mailFrom || `postmaster@${helo}`
      const ip = ctx.session.client.address
      const outcome = await evaluateSpf(
        deps.resolver,
        { sender, identity: mailFrom ? 'mailfrom' : 'helo', ip, helo, hostname: deps.dns.hostname },
        config.deadline,
      )
      spfResultsFor(ctx.session.instance, 'mail.spf_inbound', outcome.result).inc()
      const domain = outcome.domain || splitAddress(sender).domain
      const verdict = spfVerdict(outcome, config, ctx.session.clientClass, `${domain}: ${outcome.result} for ${ip}`, {
        refuse: (temporary) => spfFail(domain, ip, outcome.result, temporary),
        permerror: (temporary) => spfPermError(domain, temporary),
      })
      if (!config.add_headers) return verdict
      // Trace fields go above our Received header (RFC 7208 section 9.1, RFC 8601 section 5).
      const headers = [
        { name: 'Received-SPF', value: outcome.receivedSpf },
        { name: 'Authentication-Results', value: `${deps.dns.hostname}; ${outcome.authResult}` },
      ]
      return { ...verdict, headers }
    },
})
