import nodemailer from 'nodemailer'
import type { Transporter } from 'nodemailer'
import { reportText } from './report-text.js'
import type { EmailConfig } from './schema.js'
import type { Sender } from './sender.js'
import type { Delivery } from './store.js'
import { xarfReport } from './xarf.js'

/** The Message-ID of an incident's first report; every later one refers to it. */
export const incidentMessageId = (incidentId: string, domain: string) => `<${incidentId}@${domain}>`

/**
 * Abuse-report e-mails through nodemailer: a text part for people and an XARF 4 JSON part for
 * tools, `Auto-Submitted: auto-generated` (RFC 3834: no auto-replies to it). The first report's
 * Message-ID is derived from the incident id; updates and the resolution carry `In-Reply-To` and
 * `References` to it, so a ticket system threads them into one ticket. The SMTP server's 250
 * confirms.
 */
export class EmailSender implements Sender {
  readonly name: string
  readonly #config: EmailConfig
  readonly #transport: Transporter
  readonly #domain: string
  /** Who receives an event: the abuse desk, or the customer contact of the client key. */
  readonly #to: (d: Delivery) => readonly string[]
  readonly #customer: boolean

  constructor(config: EmailConfig, opts: { name?: string; customerContacts?: Readonly<Record<string, string>> } = {}) {
    this.name = opts.name ?? 'email'
    this.#config = config
    const { host, port, tls } = config.smtp
    this.#transport = nodemailer.createTransport({
      host,
      port,
      secure: tls === 'implicit',
      ignoreTLS: tls === 'none',
      requireTLS: tls === 'required',
      // Opportunistic STARTTLS towards a local MTA often meets a self-signed certificate.
      tls: { rejectUnauthorized: tls === 'required' || tls === 'implicit' },
      connectionTimeout: 15_000,
      greetingTimeout: 15_000,
      socketTimeout: 30_000,
    })
    this.#domain = config.from.slice(config.from.lastIndexOf('@') + 1)
    const contacts = opts.customerContacts
    this.#customer = contacts !== undefined
    this.#to = contacts ? (d) => (contacts[d.incident.client_key] ? [contacts[d.incident.client_key]!] : []) : () => config.to
  }

  wants(incident: Delivery['incident'], event: Delivery['event']): boolean {
    return !this.#customer || (event === 'firing' && incident.action.customer_notified)
  }

  async send(d: Delivery): Promise<void> {
    const to = this.#to(d)
    if (!to.length) return // no contact (any more): nothing to send, nothing to retry
    const i = d.incident
    const root = incidentMessageId(i.id, this.#domain)
    const first = d.event === 'firing'
    const label = d.event === 'resolved' ? 'Resolved: ' : d.event === 'updated' ? 'Update: ' : ''
    const text = this.#customer ? customerText(d) : reportText(i, d.event)
    const report = xarfReport(i, d.id, { org: this.#config.reporter_org, contact: this.#config.from })
    await this.#transport.sendMail({
      from: this.#config.from,
      to: [...to],
      subject: `${label}[${i.id}] ${i.severity} ${i.rule}: ${i.summary}`.slice(0, 250),
      messageId: this.#customer ? `<${i.id}.customer@${this.#domain}>` : first ? root : `<${i.id}.${d.id}@${this.#domain}>`,
      ...(first ? {} : { inReplyTo: root, references: [root] }),
      headers: { 'Auto-Submitted': 'auto-generated', 'X-Smarthost-Guard-Incident': i.id },
      text,
      attachments: this.#customer ? [] : [{ filename: 'xarf.json', content: JSON.stringify(report, null, 2), contentType: 'application/json' }],
    })
  }

  close(): void {
    this.#transport.close()
  }
}

function customerText(d: Delivery): string {
  const i = d.incident
  return [
    'Hello,',
    '',
    `our mail relay noticed unusual mail from your connection or account (${i.client_key}):`,
    `  ${i.summary}`,
    '',
    i.action.penalty_box_until ? `Its mail is held back until ${i.action.penalty_box_until}.` : 'Its mail still goes out for now.',
    'This is often a sign of an infected computer or a guessed password. Please check your devices and change the passwords of your mail accounts.',
    '',
    `Reference: ${i.id}`,
    '',
  ].join('\n')
}
