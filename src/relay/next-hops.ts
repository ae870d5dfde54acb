import { isIP } from 'node:net'
import type { SMTPConnectionOptions } from 'nodemailer/lib/smtp-connection'
import type { Logger } from 'pino'
import { secretOf } from '../config/load.js'
import type { NextHopConfig } from '../config/schema.js'
import { RelayError } from '../errors/relay-error.js'
import { noNextHop } from '../errors/replies.js'
import { nextHopDurationFor, nextHopRepliesFor } from '../metrics/relay-metrics.js'
import type { NextHopAttempt } from '../pipeline/record.js'
import { HopPool } from './hop-pool.js'
import { HopTransaction } from './hop-transaction.js'
import type { DeliveryResult, Envelope, Hop, HopSet } from './hop-transaction.js'

export type { DeliveryResult, Envelope } from './hop-transaction.js'

/** A whole message to hand to the next hop (a quarantine release). */
export interface Delivery extends Envelope {
  to: readonly string[]
  raw: Buffer
}

/** How long a hop that failed is tried only after the healthy ones. */
const BACKOFF_MS = 10_000

/**
 * The ordered next hops of an instance, each a pool of connections. A transaction goes to the
 * first healthy hop; a hop that failed goes to the back of the line for a while, so a dead hop
 * does not add its connect timeout to every message.
 */
export class NextHops implements HopSet {
  readonly instance: string
  readonly log: Logger
  readonly #hops: Hop[]

  constructor(
    configs: readonly NextHopConfig[],
    opts: { hostname: string; instance: string; log: Logger; files: ReadonlyMap<string, string> },
  ) {
    this.instance = opts.instance
    this.log = opts.log
    this.#hops = configs.map((c) => {
      const name = `${c.host}:${c.port}`
      const auth = c.auth ? { user: c.auth.user, pass: secretOf(opts.files, c.auth.password_file) ?? '' } : undefined
      return { name, pool: new HopPool(name, connectionOptions(c, opts.hostname), auth, c.max_connections), downUntil: 0, dataReplyTimeout: c.data_reply_timeout }
    })
  }

  /** Starts relaying a client's transaction, RCPT by RCPT (see HopTransaction). */
  begin(env: Envelope): HopTransaction {
    return new HopTransaction(this, env)
  }

  /**
   * Relays a whole message (a quarantine release): the recipients the hop refuses are reported,
   * the message goes to the others.
   */
  async deliver(msg: Delivery): Promise<DeliveryResult> {
    const tx = this.begin(msg)
    let last = noNextHop()
    for (const address of msg.to) last = await tx.rcpt(address)
    if (!tx.accepted.length) {
      tx.abort()
      return { accepted: false, reply: last, host: tx.host, attempts: tx.attempts, refused: tx.refused, possibleDuplicate: false }
    }
    return tx.data(msg.raw)
  }

  order(exclude: ReadonlySet<string>): Hop[] {
    const now = Date.now()
    const hops = this.#hops.filter((h) => !exclude.has(h.name))
    return [...hops.filter((h) => h.downUntil <= now), ...hops.filter((h) => h.downUntil > now)]
  }

  down(hop: Hop): void {
    hop.downUntil = Date.now() + BACKOFF_MS
  }

  observe(hop: Hop, attempts: NextHopAttempt[], started: number, reply: string, cls: string): void {
    const ms = performance.now() - started
    attempts.push({ host: hop.name, reply, ms: Math.round(ms * 10) / 10 })
    nextHopRepliesFor(this.instance, hop.name, cls).inc()
    nextHopDurationFor(this.instance, hop.name).observe(ms / 1000)
    if (cls === 'error') {
      const fault = new RelayError('RELAY_ERR_NEXTHOP_FAILED', [hop.name, reply])
      this.log.warn({ code: fault.code, nextHop: hop.name }, fault.message)
    }
  }

  /** Closes every idle pooled connection; lent ones close when their transaction ends. */
  close(): void {
    for (const hop of this.#hops) hop.pool.close()
  }
}

function connectionOptions(c: NextHopConfig, hostname: string): SMTPConnectionOptions {
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
    connectionTimeout: c.connect_timeout,
    greetingTimeout: c.connect_timeout,
    socketTimeout: c.timeout,
    logger: false,
    debug: false,
  }
}
