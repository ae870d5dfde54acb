import { basename } from 'node:path'
import { parseCidr } from '../config/units.js'
import { NetworkList } from '../relay/networks.js'
import type { ClassesConfig } from './schema.js'

/** What set a client's class, from weakest to strongest. */
export type ClassSource = 'default' | 'signal' | 'network' | 'authenticated' | 'override'

/** A class and why: `by` goes into the session record (`classBy`). */
export interface ClassChoice {
  readonly clientClass: string
  readonly by: string
  readonly source: ClassSource
}

interface CompiledList {
  readonly clientClass: string
  readonly nets: NetworkList
  readonly by: string
}

/**
 * Classifies clients of one instance: at connect by address (CIDR overrides, then deny lists,
 * then allow lists, then the default class), after AUTH by user, at MAIL by sender domain.
 * Checks may suggest a class (a dynamic-looking PTR: `residential-dynamic`); a suggestion only
 * replaces the default class or an earlier suggestion, never an operator's list or override.
 */
export class Classifier {
  readonly #config: ClassesConfig
  readonly #overrides: CompiledList[]
  readonly #lists: CompiledList[]

  /** `fileCidrs(path)` gives the parsed entries of a network list file read at load. */
  constructor(config: ClassesConfig, fileCidrs: (path: string) => readonly string[]) {
    this.#config = config
    // Longest prefix first, so a /32 override beats the /24 around it.
    this.#overrides = Object.entries(config.overrides.cidrs)
      .map(([block, clientClass]) => ({ block, clientClass, prefix: parseCidr(block)?.prefix ?? 0 }))
      .sort((a, b) => b.prefix - a.prefix)
      .map(({ block, clientClass }) => ({ clientClass, nets: new NetworkList([block]), by: `override cidr ${block}` }))
    const indexed = config.networks.map((n, i) => ({ n, i }))
    const deny = indexed.filter(({ n }) => n.list === 'deny')
    const allow = indexed.filter(({ n }) => n.list === 'allow')
    this.#lists = [...deny, ...allow].map(({ n, i }) => ({
      clientClass: n.class,
      nets: new NetworkList([...n.cidrs, ...(n.file ? fileCidrs(n.file) : [])]),
      by: `network networks[${i}] (${n.list} list${n.file ? `, ${basename(n.file)}` : ''})`,
    }))
  }

  /** The class of a client address at connect. */
  atConnect(address: string): ClassChoice {
    const override = this.#overrides.find((o) => o.nets.has(address))
    if (override) return { clientClass: override.clientClass, by: override.by, source: 'override' }
    const list = this.#lists.find((l) => l.nets.has(address))
    if (list) return { clientClass: list.clientClass, by: list.by, source: 'network' }
    return { clientClass: this.#config.default, by: 'default', source: 'default' }
  }

  /** The class after a successful AUTH: the user's override, else the authenticated class. */
  afterAuth(user: string): ClassChoice {
    const own = Object.hasOwn(this.#config.overrides.users, user) ? this.#config.overrides.users[user] : undefined
    if (own) return { clientClass: own, by: `override user ${user}`, source: 'override' }
    return { clientClass: this.#config.authenticated, by: `authenticated as ${user}`, source: 'authenticated' }
  }

  /**
   * The class for one transaction: a sender-domain override, unless a user override already
   * decided (an authenticated identity outranks a claimed sender); otherwise the session's.
   */
  forSender(session: ClassChoice, senderDomain: string): ClassChoice {
    if (session.source === 'override' && session.by.startsWith('override user ')) return session
    const domains = this.#config.overrides.sender_domains
    const own = senderDomain && Object.hasOwn(domains, senderDomain) ? domains[senderDomain] : undefined
    if (own) return { clientClass: own, by: `override sender_domain ${senderDomain}`, source: 'override' }
    return session
  }

  /** A check's suggestion: the new choice, or null when the current class outranks it. */
  signal(current: ClassChoice, clientClass: string, by: string): ClassChoice | null {
    if (current.source !== 'default' && current.source !== 'signal') return null
    return { clientClass, by: `check ${by}`, source: 'signal' }
  }
}

/** Parses a network list file: one address or CIDR block per line; problems as `file:line:col what`. */
export function parseNetworkFile(file: string, text: string): { cidrs: string[]; issues: string[] } {
  const cidrs: string[] = []
  const issues: string[] = []
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim()
    if (!line) return
    if (parseCidr(line)) cidrs.push(line)
    else issues.push(`${file}:${i + 1}:1 expected an address or CIDR block such as 192.0.2.0/24, got ${JSON.stringify(line)}`)
  })
  return { cidrs, issues }
}
