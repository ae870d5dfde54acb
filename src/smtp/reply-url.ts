import type { SmtpReply } from '../errors/smtp-reply.js'

/** Fills {code}, {enhanced}, {reason} and {session} in the operator's URL template. */
export function replyUrl(template: string | null, reply: SmtpReply, session: string): string | null {
  if (!template) return null
  const values: Record<string, string> = {
    code: String(reply.code),
    enhanced: reply.enhanced,
    reason: reply.reason,
    session,
  }
  return template.replace(/\{(code|enhanced|reason|session)\}/g, (_, k: string) => encodeURIComponent(values[k] ?? ''))
}
