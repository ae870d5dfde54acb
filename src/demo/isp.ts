// The demo ISP on 127.0.0.0/8, as policies/demo/relay.yaml classes it: who sends from where,
// which domains they use and what the DNS says about them. One place, so the zones, the
// profiles and the report agree.

/** The relay's egress (where it connects to its next hop from), named by the ISP's SPF record. */
export const EGRESS = '127.0.0.1'

/** The ISP's mailbox domain (a hosted domain: its senders log in). */
export const ISP_DOMAIN = 'example.net'

/** Home users: residential-dynamic lines, each with a mailbox at the ISP. */
export const HOME_USERS = ['alice', 'bob', 'dave', 'erin', 'frank', 'grace'].map((name, i) => ({
  name,
  address: `127.1.0.${11 + i}`,
  user: `${name}@${ISP_DOMAIN}`,
  password: `${name}-home-2026`,
}))

/** A small office on a business-static line, sending from its own mail server. */
export const OFFICE = { address: '127.2.1.10', domain: 'smallfirm.example', helo: 'mail.smallfirm.example', staff: ['anna', 'ben', 'chris', 'dora'] }

/** A newsletter sender on a business-static line. */
export const NEWSLETTER = {
  address: '127.2.2.20',
  helo: 'mta.shop.example',
  sender: 'bounces@news.shop.example',
  from: 'news@shop.example',
}

/** A hosted Exchange server (trusted-server). */
export const EXCHANGE = { address: '127.3.0.10', domain: 'lawfirm.example', helo: 'exch01.lawfirm.example', staff: ['judith', 'karl', 'lena'] }

/** A bot on an infected home line. */
export const BOT = { address: '127.1.9.66' }

/** The bank whose domain publishes DMARC p=reject, and which the bot claims to be. */
export const BANK_DOMAIN = 'bank.example'

/** The account that is guessed, then cracked: its owner at home, the guessers and the intruder. */
export const CRACKED = {
  user: `carol@${ISP_DOMAIN}`,
  password: 'carol-Summer-2026',
  owner: '127.1.5.10',
  guessers: ['127.9.1.1', '127.9.1.2', '127.9.1.3', '127.9.1.4', '127.9.1.5', '127.9.1.6'],
  intruder: '127.9.99.99',
}

/** Recipient domains on the internet (never RFC 2606 reserved TLDs, which the policy refuses). */
export const RECIPIENT_DOMAINS = Array.from({ length: 40 }, (_, i) => `mail${i + 1}.example.com`)
