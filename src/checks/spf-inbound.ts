import { z } from 'zod'
import { evaluateSpf } from '../dns/spf.js'
import type { SpfOutcome, SpfQuery } from '../dns/spf.js'
import { spfFail, spfPermError } from '../errors/replies.js'
import { spfResultsFor } from '../metrics/dns-check-metrics.js'
import type { Verdict } from '../pipeline/types.js'
import { defineCheck } from '../pipeline/types.js'
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
      const query: SpfQuery = { sender, identity: mailFrom ? 'mailfrom' : 'helo', ip, helo, hostname: deps.dns.hostname }
      const outcome = await evaluateSpf(deps.resolver, query, config.deadline)
      spfResultsFor(ctx.session.instance, 'mail.spf_inbound', 'client', outcome.result).inc()
      const domain = outcome.domain
      const verdict = spfVerdict(outcome, config, ctx.session.clientClass, `${domain}: ${outcome.result} for ${ip}`, {
        refuse: (temporary) => spfFail(domain, ip, outcome.result, temporary),
        permerror: (temporary) => spfPermError(domain, temporary),
      })
      if (!config.add_headers) return verdict
      // Trace fields go above our Received header (RFC 7208 section 9.1, RFC 8601 section 5).
      const headers = [
        { name: 'Received-SPF', value: receivedSpf(outcome, query) },
        { name: 'Authentication-Results', value: `${deps.dns.hostname}; ${authResult(outcome, query)}` },
      ]
      return { ...verdict, headers }
    },
})

const HOST = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)$/i

/** One line of printable text: DNS data (an SPF record's text) can reach a comment. */
const oneLine = (s: string) => s.replace(/[\p{Cc}\s]+/gu, ' ').trim()
/** A comment's text (RFC 5322 section 3.2.2): parentheses and backslashes as quoted pairs. */
const commentText = (s: string) => oneLine(s).replace(/[\\()]/g, '\\$&')
const quoted = (s: string) => `"${s.replace(/[\\"]/g, '\\$&')}"`
/** An RFC 8601 property value: a token or address as is, anything else as a quoted string. */
function pvalue(s: string): string {
  const text = oneLine(s)
  return /[^\x21-\x7E]|[()<>,;:\\"/[\]?=]/.test(text) ? quoted(text) : text
}

/**
 * Received-SPF's value (RFC 7208 section 9.1): the result, the comment, then key-value pairs;
 * values a client chose are quoted or left out.
 */
function receivedSpf(outcome: SpfOutcome, q: SpfQuery): string {
  const pairs = [`client-ip=${q.ip}`, `envelope-from=${quoted(q.sender)}`]
  if (HOST.test(q.helo)) pairs.push(`helo=${q.helo}`)
  pairs.push(`receiver=${q.hostname}`, `identity=${q.identity}`)
  const comment = outcome.comment ? ` (${commentText(outcome.comment)})` : ''
  return `${outcome.result}${comment} ${pairs.join('; ')};`
}

/** The spf method entry of Authentication-Results (RFC 8601 section 2.7.2). */
function authResult(outcome: SpfOutcome, q: SpfQuery): string {
  const parts = [`spf=${outcome.result}`]
  if (outcome.comment) parts.push(`(${commentText(outcome.comment)})`)
  parts.push(`smtp.mailfrom=${pvalue(q.sender)}`)
  if (q.helo) parts.push(`smtp.helo=${pvalue(q.helo)}`)
  return parts.join(' ')
}
