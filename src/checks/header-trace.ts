import { z } from 'zod'
import { forgedReceived, headerDeferred, webmailTrace } from '../errors/replies.js'
import type { Verdict } from '../pipeline/types.js'
import { defineCheck } from '../pipeline/types.js'
import { headerFields } from '../scan/header-fields.js'
import { actionFor, classActions, hitVerdict } from './class-action.js'

// Trace headers a customer's message should not carry: a Received: that claims to come from
// our own relay (a bot copying a real trace to look relayed already), and a webmail
// submission trace from a connection that is not a webmail server.

const BY = /\bby\s+([^\s;()]+)/i
const OUR_PRODUCT = /\(smarthost-guard\)/i
const WITH_HTTP = /\bwith\s+(HTTPS?A?)\b/i

/** True when `host` is one of `hosts`; an entry starting with a dot matches its subdomains. */
function ownHost(host: string, hosts: readonly string[]): boolean {
  const h = host.toLowerCase().replace(/\.$/, '')
  return hosts.some((p) => (p.startsWith('.') ? h.endsWith(p) : h === p))
}

/**
 * data.forged_received: a Received: header names one of our relay hosts ("by <host>") or our
 * product, in a message a customer is only now handing to us. Verdicts per class: reject
 * (550 5.7.1), tempfail, tag, ignore.
 */
export const forgedReceivedCheck = defineCheck({
  id: 'data.forged_received',
  stage: 'data',
  description: 'Received: headers that claim our own hosts but were not written by us (forged trace).',
  options: z.strictObject({
    hosts: z
      .array(z.string().min(1).toLowerCase())
      .min(1)
      .describe('Our relay host names as they appear in "by" clauses; ".example.net" matches its subdomains'),
    action: classActions('reject'),
  }),
  create: (options) =>
    function forgedReceivedHeader({ message, session }): Verdict {
      if (!message) return { kind: 'continue' }
      for (const value of headerFields(message).values('received')) {
        const by = BY.exec(value)?.[1] ?? ''
        if (!(by && ownHost(by, options.hosts)) && !OUR_PRODUCT.test(value)) continue
        const host = by || 'smarthost-guard'
        return hitVerdict(actionFor(options.action, session.clientClass), {
          flags: ['HDR_FORGED_RECEIVED'],
          detail: `Received: by ${host} was not written by this relay`,
          reply: () => forgedReceived(host),
          tempReply: () => headerDeferred(`Message carries a Received: header for ${host} that this relay did not write`, 'forged-received'),
        })
      }
      return { kind: 'continue' }
    },
})

/**
 * data.webmail_trace: a Received: "with HTTP" (webmail submission, RFC 3848 style) trace. From
 * a home line it means a script posting through someone's webmail, or a message copied with
 * its trace. Verdicts per class: reject, tempfail, tag, ignore.
 */
export const webmailTraceCheck = defineCheck({
  id: 'data.webmail_trace',
  stage: 'data',
  description: 'Received: "with HTTP" webmail submission traces, from clients that are not webmail servers.',
  options: z.strictObject({ action: classActions({ tag: 2 }) }),
  create: (options) =>
    function webmailTraceHeader({ message, session }): Verdict {
      if (!message) return { kind: 'continue' }
      const trace = headerFields(message)
        .values('received')
        .find((v) => WITH_HTTP.test(v))
      if (!trace) return { kind: 'continue' }
      return hitVerdict(actionFor(options.action, session.clientClass), {
        flags: ['HDR_WEBMAIL_TRACE'],
        detail: `webmail trace: ${trace.slice(0, 120)}`,
        reply: () => webmailTrace(),
        tempReply: () => headerDeferred('Message carries a webmail submission trace', 'webmail-trace'),
      })
    },
})
