import { SmtpReply } from './smtp-reply.js'

// Every refusal the relay itself sends is made here, so codes, enhanced codes and wording
// stay consistent and a wire test can pin each of them (haraka-dsn style).
// Texts say what happened and what the sender can do about it.

/** 554 5.7.1: the client may not relay to a non-local recipient. */
export const relayDenied = (rcpt: string) =>
  new SmtpReply(
    554,
    '5.7.1',
    `<${rcpt}>: Relay access denied; authenticate with SMTP AUTH over TLS or send from your own network`,
    'relay-denied',
  )

/** 550 5.7.1: an address uses sender-specified routing (% ! @ : or quotes) towards us. */
export const routingRefused = (rcpt: string) =>
  new SmtpReply(
    550,
    '5.7.1',
    `<${rcpt}>: Sender-specified routing is not accepted; use a plain user@domain address`,
    'routing-refused',
  )

/** 550 5.1.1: a local domain has no such mailbox. */
export const unknownRecipient = (rcpt: string) =>
  new SmtpReply(550, '5.1.1', `<${rcpt}>: Recipient address rejected: no such mailbox here`, 'unknown-recipient')

/** 552 5.3.4: message larger than the listener's limit. */
export const messageTooBig = (limit: number) =>
  new SmtpReply(552, '5.3.4', `Message size exceeds the fixed limit of ${limit} bytes`, 'message-too-big')

/** 452 4.5.3: more recipients than one message may carry (RFC 5321 section 4.5.3.1.10). */
export const tooManyRecipients = (limit: number) =>
  new SmtpReply(
    452,
    '4.5.3',
    `Too many recipients for one message (limit ${limit}); send the rest in another message`,
    'too-many-recipients',
  )

/** 550 5.6.11: bare CR or LF in DATA, refused because it enables SMTP smuggling. */
export const bareLineEnding = () =>
  new SmtpReply(
    550,
    '5.6.11',
    'Message refused: bare CR or LF in message data; every line must end with CRLF (RFC 5321 section 2.3.8)',
    'bare-line-ending',
  )

/** 451 4.4.1: no next hop could be reached. */
export const noNextHop = () =>
  new SmtpReply(451, '4.4.1', 'No next hop is reachable at the moment; please try again later', 'next-hop-down')

/** 451 4.4.2: the next hop did not answer in time. */
export const nextHopTimeout = () =>
  new SmtpReply(451, '4.4.2', 'The next hop did not answer in time; please try again later', 'next-hop-timeout')

/** 451 4.3.0: our own fault; internal details never reach the client. */
export const localError = () =>
  new SmtpReply(451, '4.3.0', 'Temporary local problem; please try again later', 'local-error')

/** 421 4.3.2: the service is shutting down or reloading its listeners. */
export const shuttingDown = () =>
  new SmtpReply(421, '4.3.2', 'Service shutting down; please try again later', 'shutting-down')

/** 421 4.3.2: the listener is at its connection limit. */
export const listenerBusy = () =>
  new SmtpReply(421, '4.3.2', 'Too many connections to this service; please try again in a moment', 'listener-busy')

/** 535 5.7.8: wrong user name or password (RFC 4954 section 6). */
export const authFailed = () =>
  new SmtpReply(535, '5.7.8', 'Authentication credentials invalid', 'auth-failed')

/** 454 4.7.0: authentication could not be completed right now (RFC 4954 section 6). */
export const authUnavailable = () =>
  new SmtpReply(454, '4.7.0', 'Temporary authentication failure; please try again later', 'auth-unavailable')

/** 550 5.7.1: refused by an operator rule; `text` says which. */
export const policyReject = (text: string, reason = 'policy') => new SmtpReply(550, '5.7.1', text, reason)

/** 450 4.7.1: deferred by an operator rule; `text` says which. */
export const policyTempfail = (text: string, reason = 'policy') => new SmtpReply(450, '4.7.1', text, reason)

/** 550 5.7.1: the combined score of the checks reached the reject threshold. */
export const scoreReject = (score: number, threshold: number) =>
  new SmtpReply(
    550,
    '5.7.1',
    `Message refused by policy (spam score ${round(score)}, limit ${round(threshold)})`,
    'score-reject',
  )

/** 451 4.7.1: the combined score reached the tempfail threshold. */
export const scoreTempfail = (score: number, threshold: number) =>
  new SmtpReply(
    451,
    '4.7.1',
    `Message deferred by policy (spam score ${round(score)}, limit ${round(threshold)}); please try again later`,
    'score-tempfail',
  )

/** 250 2.0.0: the next hop accepted the message. */
export const relayed = (id: string, nextHop: string) =>
  new SmtpReply(250, '2.0.0', `Ok: relayed as ${id} (next hop: ${nextHop})`, 'relayed')

/** 554 5.7.1: the content scan refused the message; `description` is the rule's text for the customer. */
export const contentRejected = (description: string, reason: string) =>
  new SmtpReply(554, '5.7.1', `Message refused: ${description}`, reason)

/** 554 5.7.1: the message is kept in the quarantine for the postmaster to review; it was not delivered. */
export const heldForReview = (description: string, reason: string) =>
  new SmtpReply(554, '5.7.1', `Message held for review by the postmaster, not delivered: ${description}`, reason)

/** 451 4.7.1: a scanner flag asks to try the message again later (flag action tempfail). */
export const contentDeferred = (description: string, reason: string) =>
  new SmtpReply(451, '4.7.1', `Message deferred: ${description}; please try again later`, reason)

/** 550 5.7.1: the From: header names someone other than the envelope sender (a bot sending as someone else). */
export const fromMismatch = (from: string, sender: string) =>
  new SmtpReply(
    550,
    '5.7.1',
    `Header From: <${from}> does not match the sender <${sender}>; send with your own address in From:`,
    'from-mismatch',
  )

/** 550 5.7.1: several From: header fields (RFC 5322 section 3.6 allows one). */
export const multipleFrom = (count: number) =>
  new SmtpReply(550, '5.7.1', `Message has ${count} From: header fields; RFC 5322 allows exactly one`, 'multiple-from')

/** 550 5.7.1: Reply-To: sends answers to a freemail mailbox unrelated to From: (advance-fee fraud). */
export const replyToFreemail = (replyTo: string, from: string) =>
  new SmtpReply(
    550,
    '5.7.1',
    `Reply-To: <${replyTo}> sends replies to a freemail address unrelated to From: <${from}>; use the sender's own domain`,
    'reply-to-freemail',
  )

/** 550 5.7.1: a Received: header claims one of our hosts, but we did not write it. */
export const forgedReceived = (host: string) =>
  new SmtpReply(550, '5.7.1', `Message carries a Received: header for ${host} that this relay did not write (forged trace)`, 'forged-received')

/** 550 5.7.1: a webmail submission trace (Received: … with HTTP) from a client that should not have one. */
export const webmailTrace = () =>
  new SmtpReply(
    550,
    '5.7.1',
    'Message carries a webmail submission trace (Received: with HTTP), not accepted from this connection; send it from the webmail service itself',
    'webmail-trace',
  )

/** 550 5.7.1: no Message-ID header (RFC 5322 section 3.6.4), a spam bot signature. */
export const missingMessageId = () =>
  new SmtpReply(550, '5.7.1', 'Message has no Message-ID header; set up your mail program to add one (RFC 5322 section 3.6.4)', 'missing-message-id')

/** 550 5.7.1: no Date header (RFC 5322 section 3.6.1 requires one), a spam bot signature. */
export const missingDate = () =>
  new SmtpReply(550, '5.7.1', 'Message has no Date header; set up your mail program to add one (RFC 5322 section 3.6.1)', 'missing-date')

/** 550 5.7.1: X-Mailer or User-Agent names bulk-mailing software. */
export const bulkMailer = (mailer: string) =>
  new SmtpReply(
    550,
    '5.7.1',
    `Messages sent with the bulk mailer "${mailer}" are not accepted here; use a newsletter service for bulk mail`,
    'bulk-mailer',
  )

/** 450 4.7.1: a header check defers the message for this client class. */
export const headerDeferred = (what: string, reason: string) =>
  new SmtpReply(450, '4.7.1', `${what}; deferred by policy, please try again later`, reason)

const round = (n: number) => Math.round(n * 100) / 100
