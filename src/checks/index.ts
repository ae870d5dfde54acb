import type { CheckDefinition } from '../pipeline/types.js'
import { clientAccess, recipientAccess, senderAccess } from './access.js'
import { authFailures } from './auth-failures.js'
import { connectionConcurrency, connectionRate, tlsSessionRate } from './connect-limits.js'
import { recipientFanout } from './fanout.js'
import { mailRate, nullSenderRate } from './mail-rates.js'
import { authPenaltyBox, connectPenaltyBox, mailPenaltyBox } from './penalty-box.js'
import { recipientLimit, recipientRate } from './rcpt-limits.js'
import { dnsbl } from './dnsbl.js'
import { heloHeuristics } from './helo.js'
import { contentScan } from './content-scan.js'
import { bulkMailerCheck, missingDateCheck, missingMessageIdCheck } from './header-bot.js'
import { fromMismatchCheck, multipleFromCheck, replyToFreemailCheck } from './header-from.js'
import { fromDmarc } from './from-dmarc.js'
import { forgedReceivedCheck, webmailTraceCheck } from './header-trace.js'
import { lineEndings } from './line-endings.js'
import { localRecipient } from './local-recipient.js'
import { messageSize } from './message-size.js'
import { rdns } from './rdns.js'
import { spfInbound } from './spf-inbound.js'
import { senderLogin } from './sender-login.js'
import { spfOutbound } from './spf-outbound.js'
import { recipientCount } from './recipient-count.js'
import { relayAuth } from './relay-auth.js'

/**
 * Every check the relay knows. Core checks run first in their stage, in this order; policy
 * checks run in the order the policy lists them. A new check is a new file plus a line here.
 */
export const CHECKS: readonly CheckDefinition[] = [
  // core: relay authorization must stay first at rcpt
  relayAuth,
  localRecipient,
  recipientCount,
  messageSize,
  lineEndings,
  connectPenaltyBox,
  authPenaltyBox,
  mailPenaltyBox,
  // policy
  clientAccess,
  senderAccess,
  recipientAccess,
  senderLogin,
  connectionConcurrency,
  connectionRate,
  tlsSessionRate,
  authFailures,
  mailRate,
  nullSenderRate,
  recipientRate,
  recipientLimit,
  recipientFanout,
  rdns,
  heloHeuristics,
  dnsbl,
  spfOutbound,
  spfInbound,
  // data: header screening, then the content scan (which weighs their scores)
  fromMismatchCheck,
  fromDmarc,
  multipleFromCheck,
  replyToFreemailCheck,
  forgedReceivedCheck,
  webmailTraceCheck,
  missingMessageIdCheck,
  missingDateCheck,
  bulkMailerCheck,
  contentScan,
]
