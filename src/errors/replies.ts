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

/** 552 5.3.4: larger than the next hop takes (its EHLO SIZE), so it can never be relayed. */
export const nextHopTooBig = (limit: number) =>
  new SmtpReply(552, '5.3.4', `Message size exceeds the fixed limit of ${limit} bytes of the next mail server`, 'message-too-big')

/** 451 4.4.1: no next hop could be reached. */
export const noNextHop = () =>
  new SmtpReply(451, '4.4.1', 'No next hop is reachable at the moment; please try again later', 'next-hop-down')

/** 451 4.4.2: the next hop did not answer in time. */
export const nextHopTimeout = () =>
  new SmtpReply(451, '4.4.2', 'The next hop did not answer in time; please try again later', 'next-hop-timeout')

/**
 * 451 4.4.2: the final dot went to the next hop and no answer came back. The hop may have
 * queued the message, so it goes to no other hop; the client's retry may make a second copy.
 */
export const nextHopUnconfirmed = () =>
  new SmtpReply(
    451,
    '4.4.2',
    'The next hop did not confirm the message after receiving it; it may have been delivered, so a retry may deliver a second copy',
    'next-hop-unconfirmed',
  )

/** 451 4.4.2: the next hop went away after it had accepted recipients of this transaction. */
export const nextHopLost = () =>
  new SmtpReply(451, '4.4.2', 'The connection to the next hop was lost during this transaction; please try again later', 'next-hop-lost')

/** 451 4.3.0: our own fault; internal details never reach the client. */
export const localError = () =>
  new SmtpReply(451, '4.3.0', 'Temporary local problem; please try again later', 'local-error')

/** 421 4.3.2: the service is shutting down or reloading its listeners. */
export const shuttingDown = () =>
  new SmtpReply(421, '4.3.2', 'Service shutting down; please try again later', 'shutting-down')

/** 421 4.3.2: the listener is at its connection limit. */
export const listenerBusy = () =>
  new SmtpReply(421, '4.3.2', 'Too many connections to this service; please try again in a moment', 'listener-busy')

/** 421 4.4.2: no complete command within greeting_timeout of the greeting (closes the connection). */
export const greetingTimeout = (seconds: number) =>
  new SmtpReply(
    421,
    '4.4.2',
    `No command received within ${seconds} s of the greeting; closing the connection, send EHLO right after the 220`,
    'greeting-timeout',
  )

/** 421 4.4.2: a command line not completed within idle_timeout of our last reply (closes the connection). */
export const commandTimeout = (seconds: number) =>
  new SmtpReply(421, '4.4.2', `No complete command received within ${seconds} s; closing the connection`, 'idle-timeout')

/** 421 4.4.2: the message data took longer than data_timeout (closes the connection; nothing was relayed). */
export const dataTimeout = (seconds: number) =>
  new SmtpReply(
    421,
    '4.4.2',
    `Message data not complete within ${seconds} s; closing the connection, nothing was relayed; try again over a faster link`,
    'data-timeout',
  )

/** 421 4.4.2: the message data arrived slower than data_min_rate (closes the connection; nothing was relayed). */
export const dataTooSlow = (bytesPerSecond: number) =>
  new SmtpReply(
    421,
    '4.4.2',
    `Message data arriving slower than ${bytesPerSecond} bytes/s; closing the connection, nothing was relayed; try again over a faster link`,
    'data-too-slow',
  )

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

/** 554 5.7.1: a connection refused by an operator rule (RFC 5321 section 3.1: 554 instead of the greeting). */
export const connectReject = (text: string, reason = 'policy') => new SmtpReply(554, '5.7.1', text, reason)

/** 421 4.7.1: a connection deferred by an operator rule (RFC 5321 section 3.1: 421, then close). */
export const connectTempfail = (text: string, reason = 'policy') => new SmtpReply(421, '4.7.1', text, reason)

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

/** Seconds to wait, rounded up, at least 1: "try again in N s" must never say 0. */
const retrySeconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000))

/** 421 4.7.0: more connections from this client at once than its class allows (closes the connection). */
export const clientConnectionLimit = (limit: number) =>
  new SmtpReply(
    421,
    '4.7.0',
    `Too many connections from your address at once (limit ${limit}); close idle connections or try again in a few minutes`,
    'connection-limit',
  )

/** 421 4.7.0: the client opened connections faster than its class allows (closes the connection). */
export const connectionRateLimited = (limit: string, retryMs: number) =>
  new SmtpReply(
    421,
    '4.7.0',
    `Too many connections from your address (limit ${limit}); try again in ${retrySeconds(retryMs)} s`,
    'connection-rate',
  )

/** 421 4.7.0: the client negotiated new TLS sessions faster than its class allows (closes the connection). */
export const tlsRateLimited = (limit: string, retryMs: number) =>
  new SmtpReply(
    421,
    '4.7.0',
    `Too many new TLS sessions from your address (limit ${limit}); reuse sessions or try again in ${retrySeconds(retryMs)} s`,
    'tls-rate',
  )

/**
 * 451 4.7.1 at MAIL, 450 4.7.1 at RCPT: a message, recipient or bounce rate is used up for
 * `whom` ("your address 192.0.2.7", "user alice"). Says the limit and when to retry.
 */
export const rateLimited = (what: string, whom: string, limit: string, retryMs: number, code: 450 | 451 = 451) =>
  new SmtpReply(
    code,
    '4.7.1',
    `${what} rate limit reached for ${whom} (limit ${limit}); try again in ${retrySeconds(retryMs)} s`,
    'rate-limited',
  )

/** 450 4.7.1: mail to more distinct recipient domains than the class allows in a window. */
export const fanoutLimited = (whom: string, limit: string, retryMs: number) =>
  new SmtpReply(
    450,
    '4.7.1',
    `Too many different recipient domains from ${whom} (limit ${limit}); try again in ${retrySeconds(retryMs)} s`,
    'fanout',
  )

/** 454 4.7.0: AUTH locked after too many failures (RFC 4954 section 6); even a right password waits. */
export const authLocked = (whom: string, retryMs: number) =>
  new SmtpReply(
    454,
    '4.7.0',
    `Too many failed authentication attempts for ${whom}; check the password and try again in ${retrySeconds(retryMs)} s`,
    'auth-locked',
  )

/**
 * 454 4.7.0: the account is under password guessing, and this address is not one it logged in
 * from before (auth.failures known_logins): its owner's usual addresses still get in.
 */
export const authNewAddressRefused = (user: string, address: string, retryMs: number) =>
  new SmtpReply(
    454,
    '4.7.0',
    `Too many failed authentication attempts for user ${user}; until they stop (about ${retrySeconds(retryMs)} s) it may log in only from addresses it used before, not from ${address}`,
    'auth-locked',
  )

/** 421 4.7.0: the client failed AUTH `limit` times in this session (closes the connection). */
export const authSessionLimit = (limit: number) =>
  new SmtpReply(
    421,
    '4.7.0',
    `Too many failed authentication attempts in this session (limit ${limit}); check the user name and password, then reconnect`,
    'auth-session-limit',
  )

/** 421 4.7.0: the session reached smtp.hard_error_limit refused commands (Postfix's smtpd_hard_error_limit; closes). */
export const tooManyErrors = (limit: number) =>
  new SmtpReply(
    421,
    '4.7.0',
    `Too many errors in this session (limit ${limit}); check the commands your mail program sends, then reconnect`,
    'too-many-errors',
  )

/**
 * The penalty box reply: `tempfail` is 421 4.7.1 at connect (closes) and 454 4.7.1 at AUTH;
 * `reject` is 554 5.7.1. Says who is held, until when, and why.
 */
export const penaltyBoxed = (
  entry: { scope: string; value: string; why: string; until: number },
  at: 'connect' | 'auth',
  reply: 'tempfail' | 'reject',
) => {
  const whom = entry.scope === 'user' ? `User ${entry.value}` : entry.scope === 'subnet' ? `Network ${entry.value}` : `Address ${entry.value}`
  const text = `${whom} is blocked until ${new Date(entry.until).toISOString().replace(/\.\d{3}Z$/, 'Z')}: ${entry.why}`
  if (reply === 'reject') return new SmtpReply(554, '5.7.1', text, 'penalty-box')
  return new SmtpReply(at === 'connect' ? 421 : 454, '4.7.1', text, 'penalty-box')
}

/** 421 (connect, TLS) or 451 4.3.0: the shared limit state is unreachable and the policy says tempfail. */
export const limitStateUnavailable = (atConnect: boolean) =>
  new SmtpReply(
    atConnect ? 421 : 451,
    '4.3.0',
    'Temporary local problem checking sending limits; please try again later',
    'state-unavailable',
  )

/** 421 4.7.0: a PROXY protocol header from an address that is not a listed load balancer. */
export const proxyHeaderNotAllowed = () =>
  new SmtpReply(
    421,
    '4.7.0',
    'PROXY protocol header not accepted from your address; connect without it, or through the load balancer',
    'proxy-refused',
  )

/** 421 4.7.0: a listed load balancer's connection without a valid PROXY protocol (v1/v2) header. */
export const proxyHeaderMissing = () =>
  new SmtpReply(
    421,
    '4.7.0',
    'Expected a valid PROXY protocol (v1 or v2) header from this load balancer; check its send-proxy setting',
    'proxy-missing',
  )

/**
 * 554 5.7.1: a block list lists the client address, HELO name or sender domain; `subject`
 * says which ("Client host [192.0.2.7]"), `lookup` is the list's page for it, if any.
 * (Postfix's wording, which postmasters recognize.)
 */
export const dnsblListed = (subject: string, zone: string, subList: string | null, lookup: string | null) =>
  new SmtpReply(
    554,
    '5.7.1',
    `Service unavailable; ${subject} blocked using ${zone}${subList ? ` (${subList})` : ''}${lookup ? `; look it up at ${lookup}` : ''}`,
    'dnsbl',
  )

/** 450 4.7.1: a block list lists the sender, and the policy defers rather than refuses. */
export const dnsblDeferred = (subject: string, zone: string, subList: string | null, lookup: string | null) =>
  new SmtpReply(
    450,
    '4.7.1',
    `${subject} is listed in ${zone}${subList ? ` (${subList})` : ''}; please try again later${lookup ? ` or look it up at ${lookup}` : ''}`,
    'dnsbl',
  )

/** 451 4.4.3: a DNS lookup the policy needs did not answer in time (RFC 3463: directory server failure). */
export const dnsLookupFailed = (what: string) =>
  new SmtpReply(451, '4.4.3', `Temporary DNS failure while checking ${what}; please try again later`, 'dns-failure')

/** 550 5.7.25 (450 4.7.25): the client address has no PTR name (RFC 7372: reverse DNS validation failed). */
export const noReverseDns = (address: string, temporary = false) =>
  temporary
    ? new SmtpReply(450, '4.7.25', `Client host [${address}] has no reverse DNS (PTR) name; please try again later`, 'rdns')
    : new SmtpReply(
        550,
        '5.7.25',
        `Client host [${address}] has no reverse DNS (PTR) name; ask your provider for one, or send through your provider's mail server`,
        'rdns',
      )

/** 550 5.7.25 (450 4.7.25): the client's PTR name does not resolve back to its address. */
export const reverseDnsMismatch = (address: string, name: string, temporary = false) =>
  temporary
    ? new SmtpReply(450, '4.7.25', `Client host [${address}]: its name ${name} does not resolve back to it; please try again later`, 'rdns')
    : new SmtpReply(
        550,
        '5.7.25',
        `Client host [${address}]: its reverse DNS name ${name} does not resolve back to it; ask your provider to fix the name's address record`,
        'rdns',
      )

/** 550 5.7.1 (450 4.7.1): the client's name looks like a dynamic or residential line's. */
export const dynamicClient = (address: string, name: string, temporary = false) =>
  new SmtpReply(
    temporary ? 450 : 550,
    temporary ? '4.7.1' : '5.7.1',
    `Client host [${address}] (${name}) looks like a dynamic or residential line; send through your provider's mail server`,
    'dynamic-client',
  )

/** 550 5.7.1 (450 4.7.1): the HELO name fails a check; `why` says which (Postfix's wording). */
export const heloRejected = (helo: string, why: string, temporary = false) =>
  new SmtpReply(temporary ? 450 : 550, temporary ? '4.7.1' : '5.7.1', `<${helo}>: Helo command rejected: ${why}`, 'helo')

/**
 * 550 5.7.23 (450 4.7.23): outbound, the sender's domain does not authorize our egress address
 * (RFC 7372: SPF validation failed): we would be relaying a forged sender.
 */
export const spfForgedSender = (domain: string, egress: string, result: string, temporary = false) =>
  new SmtpReply(
    temporary ? 450 : 550,
    temporary ? '4.7.23' : '5.7.23',
    `${domain} does not allow this relay to send its mail (SPF ${result} for ${egress}); send it through ${domain}'s own mail servers, or ask its administrator to authorize this relay`,
    'spf-forged-sender',
  )

/** 550 5.7.23 (450 4.7.23): inbound, the sender's domain does not authorize the client address. */
export const spfFail = (domain: string, ip: string, result: string, temporary = false) =>
  new SmtpReply(
    temporary ? 450 : 550,
    temporary ? '4.7.23' : '5.7.23',
    `SPF ${result}: ${domain} does not allow [${ip}] to send its mail`,
    'spf-fail',
  )

/** 451 4.7.24: the SPF record could not be evaluated now (RFC 7372: SPF validation error); never a 5xx. */
export const spfTempError = (domain: string) =>
  new SmtpReply(451, '4.7.24', `Temporary error evaluating the SPF record of ${domain}; please try again later`, 'spf-temperror')

/** 550 5.7.24 (450 4.7.24): the sender domain's SPF record is invalid (permerror). */
export const spfPermError = (domain: string, temporary = false) =>
  new SmtpReply(
    temporary ? 450 : 550,
    temporary ? '4.7.24' : '5.7.24',
    `The SPF record of ${domain} is invalid (permerror); its administrator must correct it`,
    'spf-permerror',
  )

/** 553 5.7.1: a sender address of one of our hosted domains, from a client that did not log in (Postfix's wording). */
export const hostedSenderNotLoggedIn = (sender: string) =>
  new SmtpReply(
    553,
    '5.7.1',
    `<${sender}>: Sender address rejected: not logged in; authenticate with SMTP AUTH to send as an address of this domain`,
    'sender-not-logged-in',
  )

/**
 * 553 5.7.1 (450 4.7.1 where the policy defers): an authenticated user used an envelope sender
 * that is not mapped to its login (Postfix's reject_sender_login_mismatch). `allowed` names what
 * it may use, shortened.
 */
export const senderLoginMismatch = (sender: string, user: string, allowed: string, temporary = false) =>
  new SmtpReply(
    temporary ? 450 : 553,
    temporary ? '4.7.1' : '5.7.1',
    `<${sender}> is not among the addresses ${user} may send as; ${allowed ? `use ${allowed}` : 'this login may send as no address'}, or ask the postmaster to add it`,
    'sender-login-mismatch',
  )

/** 554 5.5.0: the client sent before the 220 greeting (a pregreet, Postfix postscreen's PREGREET); closes the connection. */
export const talkedBeforeGreeting = () =>
  new SmtpReply(
    554,
    '5.5.0',
    'SMTP protocol synchronization error: commands sent before the greeting; wait for the 220 greeting',
    'pregreet',
  )

/**
 * 554 5.5.0: a command sent before the reply to the previous one when the client may not pipeline
 * (before EHLO advertised PIPELINING, or after HELO; RFC 2920 section 3, Postfix's
 * smtpd_forbid_unauth_pipelining); closes the connection.
 */
export const unauthPipelining = (command: string) =>
  new SmtpReply(
    554,
    '5.5.0',
    `SMTP protocol synchronization error: ${command} sent before the reply to the previous command; wait for each reply, or greet with EHLO to pipeline (RFC 2920)`,
    'unauth-pipelining',
  )

/** 501 5.1.7 (MAIL) / 501 5.1.3 (RCPT): the address bytes are not valid UTF-8 (RFC 6531 section 3.3, RFC 3463). */
export const invalidUtf8Address = (which: 'sender' | 'recipient') =>
  new SmtpReply(
    501,
    which === 'sender' ? '5.1.7' : '5.1.3',
    `The ${which} address is not valid UTF-8; send it as UTF-8 (with SMTPUTF8) or as plain ASCII`,
    'invalid-utf8',
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

/**
 * 550 5.7.1: From: names a domain whose DMARC policy (p=reject or p=quarantine) the message
 * cannot pass: it would be refused or junked at its destination, and it is the shape of phishing.
 */
export const dmarcFromRefused = (fromDomain: string, policy: string, sender: string) =>
  new SmtpReply(
    550,
    '5.7.1',
    `Header From: ${fromDomain} publishes DMARC p=${policy}; this relay cannot send mail that claims to be from it for the sender <${sender}>; ` +
      `put an address of your own domain in From:, or send through ${fromDomain}'s own mail servers`,
    'dmarc-from',
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
