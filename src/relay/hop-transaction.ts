import { domainToASCII } from 'node:url'
import type { Logger } from 'pino'
import { nextHopLost, nextHopTimeout, nextHopTooBig, nextHopUnconfirmed, noNextHop } from '../errors/replies.js'
import { SmtpReply } from '../errors/smtp-reply.js'
import { nextHopRcptRepliesFor, nextHopUnconfirmedFor } from '../metrics/relay-metrics.js'
import type { NextHopAttempt } from '../pipeline/record.js'
import type { HopConnection, HopFault } from './hop-connection.js'
import type { HopPool, Lent } from './hop-pool.js'

/** The sender side of a transaction, known at MAIL FROM. */
export interface Envelope {
  id: string
  from: string
  /** The client declared BODY=8BITMIME. */
  eightBit: boolean
  /** The client used SMTPUTF8; addresses are then passed on in Unicode. */
  smtputf8: boolean
  /** The SIZE the client declared, passed on where the hop takes SIZE. */
  size?: number
}

/** What became of a message: the reply to pass back to the client and how we got it. */
export interface DeliveryResult {
  /** The next hop accepted the message for every recipient it had accepted. */
  accepted: boolean
  reply: SmtpReply
  /** Host that gave the final answer, or null when none could be reached. */
  host: string | null
  attempts: NextHopAttempt[]
  /** Recipients the hop refused at RCPT (each already answered, or reported by the caller). */
  refused: { address: string; reply: string }[]
  /** The final dot went out and no answer came: the message may have been delivered. */
  possibleDuplicate: boolean
}

/** One next hop as a transaction sees it. */
export interface Hop {
  name: string
  pool: HopPool
  /** Until when the hop is tried only after the healthy ones. */
  downUntil: number
  dataReplyTimeout: number
}

/** What a transaction needs from the instance's next hops. */
export interface HopSet {
  readonly instance: string
  readonly log: Logger
  /** Healthy hops first, then backed-off ones; without the excluded names. */
  order(exclude: ReadonlySet<string>): Hop[]
  /** The hop failed to connect or went away: put it at the back of the line for a while. */
  down(hop: Hop): void
  /** Records an attempt's final reply (or fault) in the attempts and the metrics. */
  observe(hop: Hop, attempts: NextHopAttempt[], started: number, reply: string, cls: string): void
}

/**
 * A client's transaction relayed to a next hop command by command, as Postfix's
 * smtpd_proxy_filter does: the first RCPT opens (or borrows) a connection and sends MAIL FROM,
 * every RCPT gets the hop's own verdict while the client waits, and DATA goes down the same
 * connection. Failover to another hop happens only while the hop holds no recipient, or with
 * the whole envelope after the hop definitely refused or never received the message; never
 * once the final dot went out unanswered (DESIGN invariant 9).
 */
export class HopTransaction {
  readonly attempts: NextHopAttempt[]
  /** Hop that holds the transaction (or gave the last answer). */
  host: string | null = null
  /** Recipients the bound hop accepted, in order. */
  readonly accepted: string[] = []
  readonly refused: { address: string; reply: string }[] = []
  readonly #set: HopSet
  readonly #env: Envelope
  /** Hops that failed or refused in this transaction: not tried again for it. */
  readonly #tried: Set<string>
  #bound: { hop: Hop; lent: Lent } | null = null
  /** Every later RCPT gets this: the hop refused the sender for good, or went away holding recipients. */
  #final: SmtpReply | null = null
  #aborted = false

  constructor(set: HopSet, env: Envelope, opts: { exclude?: ReadonlySet<string>; attempts?: NextHopAttempt[] } = {}) {
    this.#set = set
    this.#env = env
    this.#tried = new Set(opts.exclude)
    this.attempts = opts.attempts ?? []
  }

  /** Passes one RCPT to the hop and resolves with its verdict (2xx accepted; 4xx/5xx to pass on). */
  async rcpt(address: string): Promise<SmtpReply> {
    if (this.#final) return this.#final
    const line = `RCPT TO:<${wireAddress(address, this.#env.smtputf8)}>`
    const bound = this.#bound
    if (bound) {
      try {
        const reply = this.#rcptReply(bound.hop, address, await bound.lent.conn.command(line))
        if (reply) return reply
      } catch (err) {
        this.#lost(bound.hop, performance.now(), err as HopFault)
      }
      if (this.#final) return this.#final
    }
    return this.#bind(address, line)
  }

  /**
   * Sends the message on the bound connection. A definite 4xx, or a connection that broke
   * before the final dot, moves the whole envelope to another hop (every recipient must be
   * accepted there, or the first answer stands); an unanswered final dot is a 451 and nothing else.
   */
  async data(raw: Buffer): Promise<DeliveryResult> {
    const bound = this.#bound
    if (this.#final || !bound) return this.#result(false, this.#final ?? noNextHop())
    const { hop, lent } = bound
    const started = performance.now()
    if (lent.conn.maxSize && raw.length > lent.conn.maxSize) {
      // The message's fault, not the hop's: no other hop would be told otherwise.
      const reply = nextHopTooBig(lent.conn.maxSize)
      this.#set.observe(hop, this.attempts, started, reply.toString(), '5xx')
      await this.#unbind(true)
      return this.#result(false, reply)
    }
    const outcome = await lent.conn.data(raw, hop.dataReplyTimeout)
    if (outcome.kind === 'unknown') {
      const fault = outcome.fault
      this.#set.observe(hop, this.attempts, started, `${fault.code ?? 'ERROR'} ${fault.message}`, 'error')
      nextHopUnconfirmedFor(this.#set.instance, hop.name, fault.code === 'ETIMEDOUT' ? 'timeout' : 'closed').inc()
      this.#set.log.warn(
        { tx: this.#env.id, nextHop: hop.name, possible_duplicate: true, fault: `${fault.code ?? 'ERROR'} ${fault.message}` },
        'next hop did not answer the final dot: the message may have been delivered; not sent to another hop',
      )
      await this.#unbind(false)
      return { ...this.#result(false, nextHopUnconfirmed()), possibleDuplicate: true }
    }
    if (outcome.kind === 'not-sent') {
      this.#lost(hop, started, outcome.fault)
      return (await this.#replay(raw)) ?? this.#result(false, outcome.fault.code === 'ETIMEDOUT' ? nextHopTimeout() : noNextHop())
    }
    const reply = SmtpReply.parse(outcome.line, 451)
    if (reply.code === 421) {
      // The hop is closing (RFC 5321 section 3.8) and did not take the message. Its 421 is not
      // passed on: smtp-server would close the client's session with it.
      this.#lost(hop, started, Object.assign(new Error(reply.toString()), { code: 'ECONNECTION' }))
      return (await this.#replay(raw)) ?? this.#result(false, noNextHop())
    }
    this.#set.observe(hop, this.attempts, started, reply.toString(), `${String(reply.code)[0]}xx`)
    if (reply.code < 300) {
      this.#release(true)
      return this.#result(true, reply)
    }
    await this.#unbind(true)
    if (reply.isPermanent) return this.#result(false, reply)
    this.#tried.add(hop.name)
    return (await this.#replay(raw)) ?? this.#result(false, reply)
  }

  /** Ends the transaction without a message (RSET, refusal, client gone): the connection goes back clean. */
  abort(): void {
    this.#aborted = true
    this.#unbind(true).catch((err: unknown) => this.#set.log.warn({ err }, 'resetting a next-hop connection failed'))
  }

  /** Tries hops in order until one takes MAIL FROM; returns its verdict on the recipient. */
  async #bind(address: string, rcptLine: string): Promise<SmtpReply> {
    let temporary: SmtpReply | null = null
    let timedOut = false
    for (const hop of this.#set.order(this.#tried)) {
      const started = performance.now()
      let lent: Lent
      let replies: string[]
      try {
        ;({ lent, replies } = await this.#start(hop, rcptLine))
      } catch (err) {
        const fault = err as HopFault
        timedOut ||= fault.code === 'ETIMEDOUT'
        this.#fail(hop, started, fault)
        continue
      }
      const mail = SmtpReply.parse(replies[0] ?? '', 451)
      if (mail.code >= 300) {
        this.#tried.add(hop.name)
        await resetAndRelease(hop.pool, lent.conn)
        if (mail.code === 421 || ourSetupRefused(mail)) {
          this.#fail(hop, started, Object.assign(new Error(mail.toString()), { code: 'EENVELOPE' }))
          continue
        }
        this.#set.observe(hop, this.attempts, started, mail.toString(), `${String(mail.code)[0]}xx`)
        if (mail.isPermanent) return (this.#final = mail)
        temporary ??= mail
        continue
      }
      hop.downUntil = 0
      this.#bound = { hop, lent }
      this.host = hop.name
      if (this.#aborted) {
        await this.#unbind(true)
        return noNextHop()
      }
      const verdict = this.#rcptReply(hop, address, replies[1] ?? '')
      if (verdict) return verdict
      if (this.#final) return this.#final
    }
    return temporary ?? (timedOut ? nextHopTimeout() : noNextHop())
  }

  /**
   * Borrows a connection and sends MAIL FROM and the RCPT (pipelined, RFC 2920, where the hop
   * allows). A pooled connection the hop had closed while idle is replaced by a fresh one once.
   */
  async #start(hop: Hop, rcptLine: string): Promise<{ lent: Lent; replies: string[] }> {
    for (let fresh = false; ; fresh = true) {
      const lent = await hop.pool.acquire({ fresh })
      const conn = lent.conn
      const mail = mailCommand(conn, this.#env)
      try {
        const replies = conn.supports('PIPELINING')
          ? await conn.commands([mail, rcptLine])
          : await conn.command(mail).then(async (m) => (m.startsWith('2') ? [m, await conn.command(rcptLine)] : [m]))
        return { lent, replies }
      } catch (err) {
        hop.pool.release(conn, false)
        if (!lent.reused || fresh) throw err
      }
    }
  }

  /** The hop's reply to RCPT as the client's verdict; null when the hop went away (421) before holding anyone. */
  #rcptReply(hop: Hop, address: string, line: string): SmtpReply | null {
    const reply = SmtpReply.parse(line, 451)
    nextHopRcptRepliesFor(this.#set.instance, hop.name, `${String(reply.code)[0]}xx`).inc()
    if (reply.code < 300) {
      this.accepted.push(address)
      return reply
    }
    if (reply.code === 421) {
      // RFC 5321 section 3.8: the hop is closing the connection.
      this.#lost(hop, performance.now(), Object.assign(new Error(reply.toString()), { code: 'ECONNECTION' }))
      return this.#final
    }
    this.refused.push({ address, reply: reply.toString() })
    return reply
  }

  /** The bound connection failed: fail over if the hop holds nobody yet, else the transaction is lost. */
  #lost(hop: Hop, started: number, fault: HopFault): void {
    this.#fail(hop, started, fault)
    this.#release(false)
    if (this.accepted.length) this.#final = nextHopLost()
  }

  #fail(hop: Hop, started: number, fault: HopFault): void {
    this.#tried.add(hop.name)
    // A hop whose connections are all busy is healthy: it stays first in line.
    if (fault.code !== 'EBUSY') this.#set.down(hop)
    this.#set.observe(hop, this.attempts, started, `${fault.code ?? 'ERROR'} ${fault.message}`, 'error')
  }

  /** The whole envelope on another hop, if every recipient is accepted there. */
  async #replay(raw: Buffer): Promise<DeliveryResult | null> {
    const next = new HopTransaction(this.#set, this.#env, { exclude: this.#tried, attempts: this.attempts })
    if (!next.#set.order(next.#tried).length) return null
    for (const address of this.accepted) {
      const reply = await next.rcpt(address)
      if (reply.code >= 300) {
        await next.#unbind(true)
        return null
      }
    }
    const result = await next.data(raw)
    return result.accepted || result.possibleDuplicate ? result : null
  }

  async #unbind(clean: boolean): Promise<void> {
    const bound = this.#bound
    if (!bound) return
    this.#bound = null
    if (clean) await resetAndRelease(bound.hop.pool, bound.lent.conn)
    else bound.hop.pool.release(bound.lent.conn, false)
  }

  #release(clean: boolean): void {
    const bound = this.#bound
    if (!bound) return
    this.#bound = null
    bound.hop.pool.release(bound.lent.conn, clean)
  }

  #result(accepted: boolean, reply: SmtpReply): DeliveryResult {
    return { accepted, reply, host: this.host, attempts: this.attempts, refused: this.refused, possibleDuplicate: false }
  }
}

async function resetAndRelease(pool: HopPool, conn: HopConnection): Promise<void> {
  pool.release(conn, conn.usable && (await conn.reset()))
}

/** A hop refused MAIL because our connection to it lacks AUTH or TLS: our setup failing, never the customer's 5xx. */
function ourSetupRefused(reply: SmtpReply): boolean {
  return reply.code === 530 || (reply.isPermanent && /^5\.7\.(0|11)$/.test(reply.enhanced))
}

function mailCommand(conn: HopConnection, env: Envelope): string {
  const args: string[] = []
  if (env.smtputf8 && conn.supports('SMTPUTF8')) args.push('SMTPUTF8')
  if (env.eightBit && conn.supports('8BITMIME')) args.push('BODY=8BITMIME')
  if (env.size && conn.supports('SIZE')) args.push(`SIZE=${env.size}`)
  return `MAIL FROM:<${wireAddress(env.from, env.smtputf8)}>${args.length ? ` ${args.join(' ')}` : ''}`
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
