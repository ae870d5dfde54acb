import type { z } from 'zod'
import { didYouMeanText } from './did-you-mean.js'
import type { CheckEntry } from './check-entry.js'
import type { DnsListsConfig, EgressConfig } from './dns-lists-schema.js'

/** The parts of the policy tree that refer to DNS lists by name. */
interface Referring {
  dns_lists: DnsListsConfig
  egress: EgressConfig
  instances: Record<string, { checks: CheckEntry[] } | undefined>
}

type Actions = Record<string, { action: string }>
interface Usage {
  list: string
  query?: string
  actions?: Actions
  sub_lists: Record<string, Actions>
}

/**
 * Checks every reference to a DNS list: the list exists, is looked up by what it holds
 * (addresses or domains), and is given actions its kind allows (only an allow list accepts,
 * only a block list refuses); and that outbound SPF has egress addresses to evaluate.
 * Reported at the key, like any other policy error.
 */
export function checkDnsListReferences(policy: Referring, ctx: z.RefinementCtx): void {
  const lists = policy.dns_lists.lists
  const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message })
  const known = Object.keys(lists).join(', ') || 'none defined'
  policy.egress.watch.lists?.forEach((name, i) => {
    const list = lists[name]
    if (!list) issue(['egress', 'watch', 'lists', i], `no list ${name} in dns_lists.lists (${known})${didYouMeanText(name, Object.keys(lists))}`)
    else if (list.type !== 'ip' || list.kind !== 'block') issue(['egress', 'watch', 'lists', i], `${name} is not an ip block list`)
  })
  for (const [instance, config] of Object.entries(policy.instances)) {
    config?.checks.forEach((entry, i) => {
      if (entry.check === 'mail.spf_outbound' && !entry.egress && policy.egress.addresses.length === 0) {
        issue(['instances', instance, 'checks', i, 'check'], 'mail.spf_outbound needs our egress addresses: set egress.addresses (or the check\u2019s egress)')
      }
      if (entry.check !== 'mail.dnsbl') return
      ;(entry.lists as Usage[]).forEach((usage, j) => {
        const at = ['instances', instance, 'checks', i, 'lists', j]
        const list = lists[usage.list]
        if (!list) return issue([...at, 'list'], `no list ${usage.list} in dns_lists.lists (${known})${didYouMeanText(usage.list, Object.keys(lists))}`)
        if (usage.query && (usage.query === 'client') !== (list.type === 'ip')) {
          issue([...at, 'query'], `${usage.list} is a${list.type === 'ip' ? 'n ip' : ' domain'} list: query ${list.type === 'ip' ? 'client' : 'helo or sender'}`)
        }
        const maps: [(string | number)[], Actions][] = [
          ...(usage.actions ? [[[...at, 'actions'], usage.actions] as [(string | number)[], Actions]] : []),
          ...Object.entries(usage.sub_lists).map(([sub, m]): [(string | number)[], Actions] => [[...at, 'sub_lists', sub], m]),
        ]
        for (const [path, map] of maps) {
          for (const [cls, a] of Object.entries(map)) {
            if (a.action === 'accept' && list.kind === 'block') issue([...path, cls], `${usage.list} is a block list: a hit cannot accept`)
            if ((a.action === 'reject' || a.action === 'tempfail') && list.kind === 'allow') {
              issue([...path, cls], `${usage.list} is an allow list: a hit cannot ${a.action}`)
            }
          }
        }
        const subs = new Set(Object.keys(list.codes).length ? Object.values(list.codes) : [usage.list])
        for (const sub of Object.keys(usage.sub_lists)) {
          if (!subs.has(sub) && !/^\d+\.\d+\.\d+\.\d+$/.test(sub)) {
            issue([...at, 'sub_lists', sub], `${usage.list} has no sub-list ${sub} (its codes name: ${[...subs].join(', ')})${didYouMeanText(sub, [...subs])}`)
          }
        }
      })
    })
  }
}
