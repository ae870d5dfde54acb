import { isIP } from 'node:net'
import { Readable } from 'node:stream'
import { domainToASCII } from 'node:url'
import SMTPPool from 'nodemailer/lib/smtp-pool'
import type { SMTPPoolOptions, SentMessageInfo } from 'nodemailer/lib/smtp-pool'
import type { Logger } from 'pino'
import { secretOf } from '../config/load.js'
import type { NextHopConfig } from '../config/schema.js'
import { nextHopTimeout, nextHopTooBig, noNextHop } from '../errors/replies.js'
import { RelayError } from '../errors/relay-error.js'
import { SmtpReply } from '../errors/smtp-reply.js'
import { nextHopDurationFor, nextHopRepliesFor } from '../metrics/relay-metrics.js'
import type { NextHopAttempt } from '../pipeline/record.js'

/** A message to hand to the next hop. */
export interface Delivery {
  id: string
  from: string
  to: readonly string[]
  raw: Buffer
  /** The client declared BODY=8BITMIME. */
  eightBit: boolean
  /** The client used SMTPUTF8; addresses are then passed on in Unicode. */
  smtputf8: boolean
}

/** What became of a delivery: the reply to pass back to the client and how we got it. */
export interface DeliveryResult {
  /** The next hop accepted the message for at least one recipient. */
  accepted: boolean
  reply: SmtpReply
  /** Host that gave the final answer, or null when none could be reached. */
  host: string | null
  attempts: NextHopAttempt[]
  /** Recipients the accepting hop refused while taking the message for the others. */
  refused: { address: string; reply: string }[]
}

/** How long a hop that failed to connect is tried only after the healthy ones. */
const BACKOFF_MS = 10_000

interface Hop {
  name: string
  pool: SMTPPool
  downUntil: number
}

type SendError = Error & { code?: string; responseCode?: number; response?: string; command?: string }

/**
 * The ordered next hops of an instance, each a pool of nodemailer SMTP connections.
 * A message goes to the first healthy hop; a connection failure, a timeout or a 4xx moves on
 * to the next one, a 5xx is final. A hop that failed to connect goes to the back of the line
 * for a while, so a dead hop does not add its connect timeout to every message.
 */
export class NextHops {
  readonly #hops: Hop[]
  readonly #instance: string
  readonly #log: Logger

  constructor(
    configs: readonly NextHopConfig[],
    opts: { hostname: string; instance: string; log: Logger; files: ReadonlyMap<string, string> },
  ) {
    this.#instance = opts.instance
    this.#log = opts.log
    this.#hops = configs.map((c) => ({
      name: `${c.host}:${c.port}`,
      pool: new SMTPPool(poolOptions(c, opts.hostname, opts.files)),
      downUntil: 0,
    }))
  }

  async deliver(msg: Delivery): Promise<DeliveryResult> {
    const now = Date.now()
    const order = [...this.#hops.filter((h) => h.downUntil <= now), ...this.#hops.filter((h) => h.downUntil > now)]
    const attempts: NextHopAttempt[] = []
    let temporary: { reply: SmtpReply; host: string } | null = null
    let timedOut = false
    for (const hop of order) {
      const started = performance.now()
      try {
        const info = await send(hop.pool, msg)
        const reply = SmtpReply.parse(info.response || '250 2.0.0 Ok', 250)
        this.#observe(hop, attempts, started, reply.toString(), String(reply.code)[0] + 'xx')
        hop.downUntil = 0
        const refused = (info.rejectedErrors ?? []).map((e) => ({
          address: String((e as SendError & { recipient?: string }).recipient ?? ''),
          reply: (e as SendError).response ?? e.message,
        }))
        return { accepted: true, reply, host: hop.name, attempts, refused }
      } catch (e) {
        const err = e as SendError
        // nodemailer refuses, before sending, a message larger than the SIZE the hop announced:
        // the message's fault, not the hop's, and no other hop would be told otherwise.
        const tooBig = err.code === 'EMESSAGE' && !err.responseCode && /larger than allowed (\d+)/.exec(err.message)
        if (tooBig) {
          const reply = nextHopTooBig(Number(tooBig[1]))
          this.#observe(hop, attempts, started, reply.toString(), '5xx')
          return { accepted: false, reply, host: hop.name, attempts, refused: [] }
        }
        // Only a reply to MAIL, RCPT or DATA is the next hop's verdict on the message. A refused
        // STARTTLS or AUTH is our setup failing at this hop: never the customer's 5xx; nor is a
        // MAIL refused for want of authentication (530, x.7.0/x.7.11: the hop expects AUTH or
        // TLS we did not give it).
        const aboutMessage = (err.code === 'EENVELOPE' || err.code === 'EMESSAGE') && !ourSetupRefused(err)
        if (aboutMessage && err.responseCode && err.responseCode >= 400) {
          const reply = SmtpReply.parse(err.response ?? `${err.responseCode} ${err.message}`, err.responseCode)
          this.#observe(hop, attempts, started, reply.toString(), `${String(reply.code)[0]}xx`)
          // 421 means the hop is going away: try the next one like after a connection failure.
          if (reply.isPermanent) return { accepted: false, reply, host: hop.name, attempts, refused: [] }
          temporary ??= { reply, host: hop.name }
          continue
        }
        timedOut ||= err.code === 'ETIMEDOUT'
        hop.downUntil = Date.now() + BACKOFF_MS
        this.#observe(hop, attempts, started, `${err.code ?? 'ERROR'} ${err.message}`, 'error')
        const fault = new RelayError('RELAY_ERR_NEXTHOP_FAILED', [hop.name, `${err.code ?? 'ERROR'} ${err.message}`], { cause: err })
        this.#log.warn({ code: fault.code, nextHop: hop.name }, fault.message)
      }
    }
    if (temporary) return { accepted: false, ...temporary, attempts, refused: [] }
    return { accepted: false, reply: timedOut ? nextHopTimeout() : noNextHop(), host: null, attempts, refused: [] }
  }

  /** Closes every pooled connection. */
  close(): void {
    for (const hop of this.#hops) hop.pool.close()
  }

  #observe(hop: Hop, attempts: NextHopAttempt[], started: number, reply: string, cls: string): void {
    const ms = performance.now() - started
    attempts.push({ host: hop.name, reply, ms: Math.round(ms * 10) / 10 })
    nextHopRepliesFor(this.#instance, hop.name, cls).inc()
    nextHopDurationFor(this.#instance, hop.name).observe(ms / 1000)
  }
}

/** A hop refused the envelope because our connection to it lacks AUTH or TLS. */
function ourSetupRefused(err: SendError): boolean {
  if (err.command !== 'MAIL FROM') return false
  return err.responseCode === 530 || /^5\d\d[ -]5\.7\.(0|11)\b/.test(err.response ?? '')
}

function poolOptions(c: NextHopConfig, hostname: string, files: ReadonlyMap<string, string>): SMTPPoolOptions {
  const verify = c.verify_cert ?? c.tls !== 'opportunistic'
  return {
    host: c.host,
    port: c.port,
    name: hostname,
    secure: c.tls === 'implicit',
    ignoreTLS: c.tls === 'none',
    requireTLS: c.tls === 'required',
    opportunisticTLS: c.tls === 'opportunistic',
    // SNI carries host names only (RFC 6066 section 3).
    tls: { rejectUnauthorized: verify, ...(isIP(c.host) ? {} : { servername: c.host }) },
    auth: c.auth ? { user: c.auth.user, pass: secretOf(files, c.auth.password_file) ?? '' } : undefined,
    maxConnections: c.max_connections,
    maxMessages: 1000,
    connectionTimeout: c.connect_timeout,
    greetingTimeout: c.connect_timeout,
    socketTimeout: c.timeout,
    logger: false,
    debug: false,
  }
}

/** Without SMTPUTF8 the next hop gets the domain in its ASCII (punycode) form, as the client sent it. */
function wireAddress(address: string, smtputf8: boolean): string {
  if (smtputf8 || address === '') return address
  const at = address.lastIndexOf('@')
  if (at < 0) return address
  const domain = address.slice(at + 1)
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(domain) || domain.startsWith('[')) return address
  return `${address.slice(0, at)}@${domainToASCII(domain) || domain}`
}

// nodemailer's transport contract: a transport's send() takes { data, message } where the
// message supplies the envelope and a stream of the raw RFC 5322 bytes. We pass the envelope
// through untouched instead of letting sendMail() re-parse addresses from it.
function send(pool: SMTPPool, msg: Delivery): Promise<SentMessageInfo & { rejectedErrors?: Error[] }> {
  const envelope = {
    from: wireAddress(msg.from, msg.smtputf8),
    to: msg.to.map((a) => wireAddress(a, msg.smtputf8)),
    use8BitMime: msg.eightBit,
    size: msg.raw.length,
  }
  const mail = {
    data: {},
    message: {
      getEnvelope: () => envelope,
      messageId: () => msg.id,
      getHeader: () => undefined,
      createReadStream: () => Readable.from([msg.raw]),
    },
  }
  return new Promise((resolve, reject) => {
    pool.send(mail as unknown as Parameters<SMTPPool['send']>[0], (err, info) => {
      if (err) reject(err)
      else resolve(info as SentMessageInfo & { rejectedErrors?: Error[] })
    })
  })
}
