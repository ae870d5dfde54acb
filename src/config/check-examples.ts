// Short YAML examples that `smarthost-guard explain-config` prints under each check a policy can list,
// written from the top of the tree like the section examples (src/config/examples.ts) and validated
// against the schema by the same unit test.

/** Example per check that a policy lists under `checks:`, keyed by check id. */
export const CHECK_EXAMPLES: Readonly<Record<string, string>> = {
  'connect.client_access': `instances:
  outbound:
    checks:
      - check: connect.client_access
        rules:
          - match: [198.51.100.66]
            action: reject
            text: Sending from this line is suspended; contact abuse@example.net
          - match: [198.51.100.0/24]
            action: tag
            score: 1
`,
  'mail.sender_access': `instances:
  outbound:
    checks:
      - check: mail.sender_access
        mode: warn
        rules:
          - match: ["<>"]
            action: reject
            text: Bounces are not relayed from this network
`,
  'rcpt.recipient_access': `instances:
  outbound:
    checks:
      - check: rcpt.recipient_access
        rules:
          - match: [.invalid, .test, .example, invalid, test, example]
            action: reject
            text: Recipient domain is reserved and can never receive mail
`,
  'connect.concurrency': `instances:
  outbound:
    checks:
      - check: connect.concurrency
        limits: { default: 20, residential-dynamic: 5, trusted-server: unlimited }
`,
  'connect.rate': `instances:
  outbound:
    checks:
      - check: connect.rate
        limits: { default: 120/1m, residential-dynamic: 30/1m }
`,
  'tls.rate': `instances:
  outbound:
    checks:
      - check: tls.rate
        limits: { default: 60/1m, residential-dynamic: 20/1m }
`,
  'auth.failures': `instances:
  outbound:
    checks:
      - check: auth.failures
        limits:
          address: { default: 10/10m }
          user: { default: 20/1h }
        known_logins:
          while_attacked: { default: known_networks, residential-dynamic: known_addresses }
          remember: 30d
`,
  'mail.rate': `instances:
  outbound:
    checks:
      - check: mail.rate
        limits:
          address: { default: 600/1h, residential-dynamic: { points: 30, window: 1h, burst: { points: 50, window: 1d } } }
          user: { default: 500/1h }
`,
  'mail.null_sender_rate': `instances:
  outbound:
    checks:
      - check: mail.null_sender_rate
        limits:
          address: { default: 60/1h, trusted-server: 600/1h }
`,
  'rcpt.rate': `instances:
  outbound:
    checks:
      - check: rcpt.rate
        limits:
          address: { default: 3000/1h, residential-dynamic: 200/1h }
`,
  'rcpt.recipient_limit': `instances:
  outbound:
    checks:
      - check: rcpt.recipient_limit
        limits: { default: unlimited, residential-dynamic: 20 }
`,
  'rcpt.fanout': `instances:
  outbound:
    checks:
      - check: rcpt.fanout
        limits:
          address: { default: 200/1h, residential-dynamic: 50/1h }
`,
  'connect.rdns': `instances:
  inbound:
    checks:
      - check: connect.rdns
        missing: { default: reject }
        dynamic: { default: { tag: 2 } }
        reclassify: null
`,
  'helo.heuristics': `instances:
  inbound:
    checks:
      - check: helo.heuristics
        localhost: { default: reject }
        ours: { default: reject }
`,
  'mail.dnsbl': `dns_lists:
  lists:
    zen: { zone: zen.spamhaus.org, codes: { 127.0.0.10-127.0.0.11: PBL } }
instances:
  outbound:
    checks:
      - check: mail.dnsbl
        lists:
          - list: zen
            actions: { default: reject, authenticated-user: { tag: 3 } }
            sub_lists:
              PBL: { default: ignore }
`,
  'mail.spf_outbound': `egress:
  addresses: [203.0.113.30]
instances:
  outbound:
    checks:
      - check: mail.spf_outbound
        relay_not_authorized: { default: { tag: 0 }, residential-dynamic: { tag: 3 } }
        hosted_domains:
          example.net: { networks: [192.0.2.0/24] }
`,
  'mail.sender_login': `instances:
  outbound:
    checks:
      - check: mail.sender_login
        senders:
          office-scanner: ["@office.example"]
          alice: [alice@example.net, .shop.example]
        unmapped: own_address
        mismatch: { default: reject, trusted-server: { tag: 1 } }
`,
  'mail.spf_inbound': `instances:
  inbound:
    checks:
      - check: mail.spf_inbound
        softfail: { default: { tag: 2 } }
`,
  'data.from_mismatch': `instances:
  outbound:
    checks:
      - check: data.from_mismatch
        require: { default: same_domain, trusted-server: any }
        action: { default: { tag: 5 }, residential-dynamic: reject }
`,
  'data.from_dmarc': `instances:
  outbound:
    checks:
      - check: data.from_dmarc
        reject: { default: reject }
        quarantine: { default: reject, trusted-server: { tag: 3 } }
        none: { default: { tag: 1 } }
        no_record: { default: { tag: 1 } }
        partial: downgrade
`,
  'data.multiple_from': `instances:
  outbound:
    checks:
      - check: data.multiple_from
        action: { default: reject }
`,
  'data.reply_to_freemail': `instances:
  outbound:
    checks:
      - check: data.reply_to_freemail
        action: { default: { tag: 3 } }
`,
  'data.forged_received': `instances:
  outbound:
    checks:
      - check: data.forged_received
        hosts: [relay.example.net, .mx.example.net]
`,
  'data.webmail_trace': `instances:
  outbound:
    checks:
      - check: data.webmail_trace
        skip_classes: [trusted-server]
`,
  'data.missing_message_id': `instances:
  outbound:
    checks:
      - check: data.missing_message_id
        action: { default: { tag: 1 } }
`,
  'data.missing_date': `instances:
  outbound:
    checks:
      - check: data.missing_date
        action: { default: { tag: 1 } }
`,
  'data.bulk_mailer': `instances:
  outbound:
    checks:
      - check: data.bulk_mailer
        mailers: ["Atomic Mail Sender", "Bulk ?Mail(er)?"]
`,
  'data.content_scan': `instances:
  outbound:
    checks:
      - check: data.content_scan
        on_error: tempfail
        quarantine_at: 15
        reject_at: 30
        flag_actions: { encrypted_archive: quarantine }
`,
}
