// Short YAML examples that `smarthost-guard explain-config` prints under each section of the policy
// tree and under each check. Each is written from the top of the tree, so it can be pasted as it
// is; a unit test validates every one against the schema, so they cannot drift from it.

/** Example per section, keyed by the section's name in the reference (`instances.<outbound|inbound>.limits`). */
export const SECTION_EXAMPLES: Readonly<Record<string, string>> = {
  admin: `admin:
  address: 127.0.0.1
  port: 9465
  token_file: /etc/smarthost-guard/admin.token
`,
  dns: `dns:
  servers: [127.0.0.1]     # a local caching resolver
  timeout: 2s
  tries: 2
  cache:
    max_entries: 50000
    negative_ttl: 15m
`,
  dns_lists: `dns_lists:
  check_every: 5m
  lists:
    zen:
      zone: zen.spamhaus.org
      codes:
        127.0.0.2: SBL
        127.0.0.4-127.0.0.7: XBL
        127.0.0.10-127.0.0.11: PBL
      url: "https://check.spamhaus.org/results/?query={query}"
    dbl:
      zone: dbl.spamhaus.org
      type: domain
`,
  egress: `egress:
  addresses: [203.0.113.30, "2001:db8:ffff::30"]
  watch:
    every: 5m
`,
  state: `state:
  backend: redis
  redis:
    sentinels: ["10.0.0.11:26379", "10.0.0.12:26379"]
    sentinel_name: smarthost
    password_file: /etc/smarthost-guard/redis.password
    on_failure: fail-open
`,
  log: `log:
  level: info
`,
  instances: `instances:
  outbound:
    listeners:
      - { name: submission, address: 0.0.0.0, port: 587, tls: starttls, auth: true }
    relay:
      networks: [192.0.2.0/24]
      credentials: /etc/smarthost-guard/users.passwd
    next_hops: [queue1.example.net:25]
  inbound:
    listeners:
      - { name: mx, address: 203.0.113.25, port: 25 }
    local:
      domains: { example.net: {} }
    next_hops: [mailstore1.example.net:25]
`,
  'instances.<outbound|inbound>.listeners': `instances:
  outbound:
    listeners:
      - name: smtp
        address: 203.0.113.10
        port: 25
        tls: starttls
        cert: /etc/smarthost-guard/tls/relay.example.net.crt
        key: /etc/smarthost-guard/tls/relay.example.net.key
      - name: submissions
        address: 0.0.0.0
        port: 465
        tls: implicit
        cert: /etc/smarthost-guard/tls/relay.example.net.crt
        key: /etc/smarthost-guard/tls/relay.example.net.key
        auth: true
    relay:
      credentials: /etc/smarthost-guard/users.passwd
`,
  'instances.<outbound|inbound>.relay': `instances:
  outbound:
    relay:
      networks: [192.0.2.0/24, "2001:db8::/32"]
      credentials: /etc/smarthost-guard/users.passwd
`,
  'instances.<outbound|inbound>.local': `instances:
  inbound:
    local:
      domains:
        example.net:
          valid_file: /etc/smarthost-guard/recipients/example.net
        example.org:
          valid: [alice, bob, postmaster]
      recipient_delimiter: "+"
`,
  'instances.<outbound|inbound>.next_hops': `instances:
  outbound:
    next_hops:
      - host: queue1.example.net
        port: 25
        tls: required
        max_connections: 50
      - queue2.example.net:25
`,
  'instances.<outbound|inbound>.limits': `instances:
  outbound:
    limits:
      message_size: 25MiB
      recipients_per_message: 100
      idle_timeout: 5m
      command_timeout: 60s
`,
  'instances.<outbound|inbound>.smtp': `instances:
  inbound:
    smtp:
      banner: mx.example.net
      bare_line_endings: reject
`,
  'instances.<outbound|inbound>.scoring': `instances:
  outbound:
    scoring:
      tempfail_at: 10
      reject_at: 20
      decide_at: [rcpt, data]
`,
  'instances.<outbound|inbound>.admin': `instances:
  outbound:
    admin:
      address: 127.0.0.1
      port: 9465
`,
  'instances.<outbound|inbound>.scan': `instances:
  outbound:
    scan:
      rules: /etc/smarthost-guard/yara
      workers: auto
      limits:
        total_bytes: 100MiB
        time: 10s
`,
  'instances.<outbound|inbound>.quarantine': `instances:
  outbound:
    quarantine:
      dir: /var/lib/smarthost-guard/quarantine
      max_size: 10GiB
      max_age: 30d
`,
  'instances.<outbound|inbound>.checks': `instances:
  outbound:
    checks:
      - check: mail.rate
        mode: warn               # log what it would refuse, refuse nothing
        limits:
          address: { default: 600/1h, residential-dynamic: 30/1h }
      - check: data.missing_date
        skip_classes: [trusted-server]
`,
  'instances.<outbound|inbound>.classes': `instances:
  outbound:
    classes:
      networks:
        - class: business-static
          file: /etc/smarthost-guard/networks/business.cidrs
        - class: residential-dynamic
          cidrs: [198.51.100.0/24]
      overrides:
        cidrs: { 198.51.100.200/32: business-static }
`,
  'instances.<outbound|inbound>.penalty_box': `instances:
  outbound:
    penalty_box:
      reply: tempfail
      default_duration: 4h
      rules:
        - name: persistent-rate-offender
          limits: [mail.rate, rcpt.rate]
          hits: 20
          window: 10m
          duration: 2h
`,
  'instances.<outbound|inbound>.tarpit': `instances:
  outbound:
    tarpit:
      delay: 5s
      max_sockets: 200
`,
}

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
        hosted_domains:
          example.net: { networks: [192.0.2.0/24] }
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
