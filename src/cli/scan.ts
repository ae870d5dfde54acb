import { readFile } from 'node:fs/promises'
import { isIP } from 'node:net'
import { compileInstance } from '../config/instance-policy.js'
import { DnsServices } from '../dns/services.js'
import { heldForReview } from '../errors/replies.js'
import { createLogger } from '../log/logger.js'
import { decideScore } from '../pipeline/decide.js'
import type { SessionRecord, TransactionRecord } from '../pipeline/record.js'
import { newTransactionRecord } from '../pipeline/record.js'
import { splitAddress } from '../relay/address.js'
import { runStage } from '../pipeline/runner.js'
import type { MessageData } from '../relay/message.js'
import { countBareLineEndings } from '../relay/message.js'
import { headerFields } from '../scan/header-fields.js'
import { scansContent } from '../scan/policy-rules.js'
import { ScanPools } from '../scan/scan-pools.js'
import { printable, renderFindings, renderTree } from '../scan/tree.js'
import type { Command } from './args.js'
import { UsageError, instanceName, loadPolicyOrReport, parse } from './args.js'

/** `smarthost-guard scan`: the content scan and data-stage checks of a policy on one message file. */
export const scan: Command = {
  name: 'scan',
  summary: 'scan a message file with the policy\u2019s rules and checks, and print the tree and decision',
  usage: `Usage: smarthost-guard scan FILE.eml [--json] [--config FILE] [--instance NAME] [--from ADDR] [--class CLASS] [--client IP]

Explodes the message as the relay would at the end of DATA (MIME parts, attachments,
archives, nested messages), runs the YARA-X rules on every object and then the instance's
data-stage checks, and prints the explosion tree, the flags, the rule hits, every check's
verdict and the decision with the reply the client would get. No server runs: this is for
tuning rules and policies. Exit status 0 when the message would be relayed, 1 when it would
be refused, held or deferred, 2 on a usage error.

Options:
  -c, --config FILE     policy tree (default: $SMARTHOST_GUARD_CONFIG or the embedded policies/relay.yaml)
  -i, --instance NAME   instance whose scan and checks apply (default outbound)
  -f, --from ADDR       envelope sender (default: the From: header address)
      --class CLASS     client class of the sending client (default unknown)
      --client IP       client address (default 127.0.0.1)
  -j, --json            print the report, the check results and the decision as JSON
`,
  async run(argv) {
    const { values, positionals } = parse(
      argv,
      {
        config: { type: 'string', short: 'c' },
        instance: { type: 'string', short: 'i', default: 'outbound' },
        from: { type: 'string', short: 'f' },
        class: { type: 'string' },
        client: { type: 'string', default: '127.0.0.1' },
        json: { type: 'boolean', short: 'j', default: false },
      },
      true,
    )
    const [file, ...extra] = positionals
    if (!file || extra.length) throw new UsageError('give exactly one message file')
    const name = instanceName(values.instance)
    if (!isIP(values.client)) throw new UsageError(`--client must be an IP address, got ${JSON.stringify(values.client)}`)
    const loaded = await loadPolicyOrReport(values.config, { instances: [name] })
    if (!loaded) return 1
    const config = loaded.policy.instances[name]
    if (!config) throw new UsageError(`instance ${name} is not defined in ${loaded.file}`)
    if (!scansContent(config)) throw new UsageError(`instance ${name} of ${loaded.file} does not list the data.content_scan check`)
    const raw = fromDisk(await readFile(file))
    const message: MessageData = { raw, size: raw.length, overLimit: false, ...countBareLineEndings(raw) }
    const log = createLogger('silent')
    const pools = new ScanPools(log)
    try {
      const scanner = pools.scannerFor(loaded, name, false)
      // Only the data stage runs: nothing here looks anything up.
      const dns = DnsServices.offline(loaded, log)
      const deps = { resolver: dns.resolver, dns: dns.context(loaded, name), log, now: Date.now, ...(scanner ? { scanner } : {}) }
      const policy = compileInstance(loaded, name, deps)
      const session = sessionRecord(name, values.client, values.class ?? 'unknown')
      const fields = headerFields(message)
      const tx = transaction(session.id, values.from ?? fields.addresses('from')[0] ?? '', fields.addresses('to'))
      const stage = await runStage(policy.pipeline.data, { stage: 'data', session, tx, message, log }, tx, Date.now() + config.limits.command_timeout)
      const decision =
        stage ?? decideScore(config.scoring, 'data', session.score + tx.score, false) ?? null
      const report = await scanner?.reportFor(message)
      const reply =
        decision === null
          ? null
          : decision.kind === 'quarantine'
            ? heldForReview(decision.description, decision.reason).toString()
            : decision.reply.toString()
      const outcome = decision === null ? 'relay' : decision.kind
      if (values.json) {
        process.stdout.write(`${JSON.stringify({ file, report, checks: tx.checks, headers: tx.headers, decision: { outcome, reply } }, null, 2)}\n`)
      } else {
        const out = [`${file}: ${raw.length} bytes`]
        if (report) {
          out.push(`${report.objects.length} objects, ${report.bytes} bytes decoded, ${report.ms} ms, ${report.engine} engine, rules ${report.rules}${report.complete ? '' : ' (stopped by a limit)'}`)
          out.push('', ...renderTree(report), '', ...renderFindings(report))
        }
        out.push('checks:')
        for (const c of tx.checks) out.push(printable(`  ${c.check}: ${c.outcome}${c.score ? `, score ${c.score}` : ''}${c.detail ? ` (${c.detail})` : ''}`))
        for (const h of tx.headers) out.push(printable(`header for the next hop: ${h.name}: ${h.value}`))
        out.push(`decision: ${outcome}${reply ? ` ${reply}` : ''}`)
        process.stdout.write(`${out.join('\n')}\n`)
      }
      return decision === null ? 0 : 1
    } finally {
      await pools.close()
    }
  },
}

/**
 * A message file as an MTA would have received it over SMTP: files on disk end their lines with
 * LF, and SMTP carries CRLF (RFC 5321 section 2.3.8), so an LF-only file gets CRLF. A file that
 * already mixes CRLF with bare LF, or has a bare CR, is left as it is: that is what the
 * data.line_endings check is there to flag.
 */
export function fromDisk(raw: Buffer): Buffer {
  const { bareCr, bareLf } = countBareLineEndings(raw)
  if (bareLf === 0 || bareCr !== 0 || raw.includes(CRLF)) return raw
  return Buffer.from(raw.toString('latin1').replaceAll('\n', '\r\n'), 'latin1')
}

const CRLF = Buffer.from('\r\n')

function sessionRecord(instance: string, address: string, clientClass: string): SessionRecord {
  return {
    id: 'scan',
    instance,
    listener: 'scan',
    client: { address, port: 0, ptr: null },
    server: { address: '127.0.0.1', port: 0 },
    helo: null,
    tls: null,
    user: null,
    relayClient: true,
    clientClass,
    classBy: 'scan --class',
    score: 0,
    flags: [],
    checks: [],
    headers: [],
    startedAt: Date.now(),
    transactions: 1,
  }
}

function transaction(session: string, from: string, to: readonly string[]): TransactionRecord {
  const rcpts = to.map((address) => ({ address, domain: splitAddress(address).domain, local: false, accepted: true }))
  const tx = newTransactionRecord({ id: 'SCAN', session, mailFrom: from, params: {}, rcpts })
  tx.timings.data = tx.timings.start
  return tx
}
