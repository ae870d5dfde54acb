import type { Prng } from './prng.js'

/** The header fields and body of a message the demo sends. */
export interface MessageParts {
  from: string
  to: readonly string[]
  subject: string
  /** null: no Date: field (a bot's habit). */
  date: Date | null
  /** null: no Message-ID: field (a bot's habit). */
  messageId: string | null
  extra?: Record<string, string>
  body: string
}

/** An RFC 5322 message with CRLF line ends. */
export function composeMessage(p: MessageParts): string {
  const lines = [`From: ${p.from}`, `To: ${p.to.join(', ')}`, `Subject: ${p.subject}`]
  if (p.date) lines.push(`Date: ${p.date.toUTCString().replace('GMT', '+0000')}`)
  if (p.messageId) lines.push(`Message-ID: ${p.messageId}`)
  for (const [k, v] of Object.entries(p.extra ?? {})) lines.push(`${k}: ${v}`)
  lines.push('MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit', '')
  return `${lines.join('\r\n')}\r\n${p.body.replace(/\r?\n/g, '\r\n')}\r\n`
}

/** A Message-ID at `domain`, unique within a run. */
export function messageId(rnd: Prng, domain: string): string {
  return `<${Date.now().toString(36)}.${rnd.word(12)}@${domain}>`
}

const PERSONAL = [
  ['Dinner on Saturday?', 'Hi,\n\nare you free on Saturday evening? We could try the new place by the river.\n\nCheers'],
  ['Photos from the weekend', 'Hello,\n\nthe photos are in the shared album now, the ones from the lake came out best.\n\nLove'],
  ['Re: school trip', 'Thanks for organising it. We will bring sandwiches for four.\n'],
  ['Flat viewing', 'Dear Sir or Madam,\n\nI would like to view the flat on Elm Street next week, any afternoon works for me.\n\nKind regards'],
  ['Football practice moved', 'Practice is on Thursday this week, same time, same pitch.\n'],
] as const

const BUSINESS = [
  ['Invoice 2026-{n}', 'Dear customer,\n\nplease find our invoice 2026-{n} for the work done in November. Payment within 30 days.\n\nBest regards'],
  ['Meeting notes', 'Hello all,\n\nthe notes of today\u2019s meeting are below; the next meeting is on Tuesday.\n\n1. Budget\n2. Hiring\n'],
  ['Re: offer {n}', 'Thank you for your offer {n}. We accept the terms and will send the signed copy tomorrow.\n'],
  ['Delivery schedule', 'Hi,\n\nthe parts will be delivered on Monday between 9 and 11.\n\nRegards'],
] as const

const SPAM = [
  ['Your account has been suspended', 'Dear customer, your account is on hold. Verify your details within 24 hours at http://secure-login.{w}.example.com/verify'],
  ['Cheap meds, 90% off', 'Best prices on the market! Order now: http://pharma-{w}.example.com/'],
  ['You have won!', 'Congratulations, you have been selected. Claim your prize: http://{w}.example.com/claim'],
  ['Invoice overdue', 'Please pay the attached invoice today to avoid legal action. http://{w}.example.com/pay'],
] as const

const fill = (text: string, rnd: Prng) => text.replace(/\{n\}/g, String(rnd.int(1000, 9999))).replace(/\{w\}/g, rnd.word(6))

/** A subject and body as home users write them. */
export const personalText = (rnd: Prng): [string, string] => rnd.pick(PERSONAL).map((t) => fill(t, rnd)) as [string, string]
/** A subject and body as an office writes them. */
export const businessText = (rnd: Prng): [string, string] => rnd.pick(BUSINESS).map((t) => fill(t, rnd)) as [string, string]
/** A spam subject and body. */
export const spamText = (rnd: Prng): [string, string] => rnd.pick(SPAM).map((t) => fill(t, rnd)) as [string, string]
