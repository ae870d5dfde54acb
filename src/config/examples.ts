// Short YAML examples that `smarthost-guard explain-config` prints under each section of the policy
// tree (those of the checks are in check-examples.ts). Each is written from the top of the tree, so
// it can be pasted as it is; a unit test validates every one against the schema, so they cannot
// drift from it.

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
  stats: `stats:
  max_clients: 100000
  snapshot_dir: /var/lib/smarthost-guard    # memory backend: baselines kept across restarts
  snapshot_every: 5m
`,
  alerts: `alerts:
  evaluate_every: 5s
  webhooks:
    - { name: desk, url: "https://desk.example.net/hooks/relay", secret_file: /etc/smarthost-guard/webhook.secret }
  email:
    smtp: { host: 127.0.0.1, port: 25 }
    from: abuse-reports@relay.example.net
    to: [abuse@example.net]
    reporter_org: Example ISP
  request_tracker: { url: "https://rt.example.net", queue: Abuse, token_file: /etc/smarthost-guard/rt.token }
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
  'instances.<outbound|inbound>.added_headers': `instances:
  outbound:
    added_headers:
      guard: true
      guard_name: X-Smarthost-Guard
      authentication_results: true
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
