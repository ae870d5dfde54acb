import type { Outcome } from './session.js'

/** A refusal's reason as the report shows it: reply code, enhanced code and reason token. */
export function reasonOf(o: Outcome): string {
  if (o.reply.code === 0) return `closed at ${o.step}`
  const enhanced = /^([245]\.\d{1,3}\.\d{1,3})\b/.exec(o.reply.text)?.[1]
  // The reply URL's reason token (reply_url: ...?reason={reason}), else the start of the text.
  const token = /[?&]reason=([A-Za-z0-9_.-]+)/.exec(o.reply.text)?.[1] ?? o.reply.text.replace(/^[245]\.\d+\.\d+\s*/, '').slice(0, 40).trim()
  return [String(o.reply.code), enhanced, token].filter(Boolean).join(' ')
}

/** What one profile saw: its messages and their outcomes, and its AUTH attempts. */
export class Tally {
  attempted = 0
  accepted = 0
  /** Refused (4xx or 5xx, or the connection closed) by reason. */
  readonly refused = new Map<string, number>()
  /** Messages meant as legitimate mail that were refused. */
  legitimateRefused = 0
  firstRefusal: { afterMs: number; afterMessages: number; reason: string } | null = null
  readonly auth = { attempts: 0, failures: 0, refused: 0, successes: 0 }
  /** When the profile started, and when its abuse (if any) started: ms since the demo's start. */
  startedMs: number | null = null
  abuseStartedMs: number | null = null
  /** A sample refusal line per reason, for the curious. */
  readonly samples = new Map<string, string>()

  constructor(private readonly clock: () => number) {}

  /** Marks the profile's start (its abuse's start too, for a profile that only abuses). */
  start(abusive = false): void {
    this.startedMs ??= this.clock()
    if (abusive) this.abuse()
  }

  /** Marks the moment the profile starts to misbehave. */
  abuse(): void {
    this.abuseStartedMs ??= this.clock()
  }

  /** Counts one message's outcome. */
  message(o: Outcome, legitimate: boolean): void {
    this.attempted++
    if (o.accepted) {
      this.accepted++
      return
    }
    this.#refusal(o)
    if (legitimate) this.legitimateRefused++
  }

  /** Counts one AUTH attempt's reply (235 logged in, 535 wrong password, others refused). */
  authReply(o: Outcome | null): void {
    this.auth.attempts++
    if (!o) this.auth.successes++
    else if (o.reply.code === 535) this.auth.failures++
    else {
      this.auth.refused++
      this.#count(o)
    }
  }

  #refusal(o: Outcome): void {
    this.#count(o)
    if (!this.firstRefusal) {
      const from = this.abuseStartedMs ?? this.startedMs ?? 0
      this.firstRefusal = { afterMs: this.clock() - from, afterMessages: this.attempted, reason: reasonOf(o) }
    }
  }

  #count(o: Outcome): void {
    const reason = reasonOf(o)
    this.refused.set(reason, (this.refused.get(reason) ?? 0) + 1)
    if (!this.samples.has(reason)) this.samples.set(reason, `${o.reply.code} ${o.reply.text}`.slice(0, 300))
  }
}
