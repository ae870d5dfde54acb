import type { ZoneData } from '../dns/zone-server.js'
import { BANK_DOMAIN, EGRESS, EXCHANGE, ISP_DOMAIN, NEWSLETTER, OFFICE } from './isp.js'

/**
 * The demo's DNS: SPF and DMARC records of every sender domain, and the DNS lists' RFC 5782
 * test points (so that the relay's list health checks pass). The ISP's SPF names its relay's
 * egress; the office, the newsletter and the Exchange name their own addresses only, as
 * customers who used to send directly do; the bank allows neither and asks for p=reject.
 */
export function demoZones(): ZoneData[] {
  const spf = (text: string) => ({ TXT: [text] })
  return [
    {
      ttl: 300,
      names: {
        [ISP_DOMAIN]: { ...spf(`v=spf1 include:_spf.${ISP_DOMAIN} -all`), MX: [{ exchange: `mx.${ISP_DOMAIN}`, priority: 10 }] },
        [`_spf.${ISP_DOMAIN}`]: spf(`v=spf1 ip4:${EGRESS} -all`),
        [`_dmarc.${ISP_DOMAIN}`]: spf('v=DMARC1; p=none; rua=mailto:dmarc@example.net'),
        [OFFICE.domain]: spf(`v=spf1 ip4:${OFFICE.address} -all`),
        [`_dmarc.${OFFICE.domain}`]: spf('v=DMARC1; p=none'),
        'news.shop.example': spf(`v=spf1 ip4:${NEWSLETTER.address} -all`),
        'shop.example': spf(`v=spf1 ip4:${NEWSLETTER.address} -all`),
        '_dmarc.shop.example': spf('v=DMARC1; p=quarantine; adkim=r; aspf=r'),
        [EXCHANGE.domain]: spf(`v=spf1 ip4:${EXCHANGE.address} -all`),
        [`_dmarc.${EXCHANGE.domain}`]: spf('v=DMARC1; p=none'),
        [BANK_DOMAIN]: spf('v=spf1 ip4:192.0.2.25 -all'),
        [`_dmarc.${BANK_DOMAIN}`]: spf('v=DMARC1; p=reject; adkim=s; aspf=s'),
        // RFC 5782 section 5 test points: listed, and never listed.
        '2.0.0.127.zen.spamhaus.org': { A: ['127.0.0.2'] },
        'test.dbl.spamhaus.org': { A: ['127.0.1.2'] },
      },
    },
  ]
}
