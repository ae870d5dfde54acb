// Types for the part of mailauth 4.9 the relay uses (the package ships none): its SPF
// evaluation (lib/spf/index.js), which takes a resolver with dns.promises.resolve's contract.
declare module 'mailauth/lib/spf/index.js' {
  export type SpfResultName = 'pass' | 'fail' | 'softfail' | 'neutral' | 'none' | 'temperror' | 'permerror'

  export interface SpfOptions {
    /** MAIL FROM address; with none, postmaster@helo is used. */
    sender?: string
    ip: string
    helo?: string
    /** Our host name, written into comments. */
    mta?: string
    resolver?: (name: string, rrtype: string) => Promise<unknown>
    maxResolveCount?: number
    maxVoidCount?: number
  }

  export interface SpfResult {
    domain: string
    'client-ip': string
    helo?: string
    'envelope-from'?: string
    status: { result: SpfResultName; comment?: string; smtp: { mailfrom: string; helo?: string } }
    /** "Received-SPF: …" folded at 160 columns. */
    header: string
    /** The Authentication-Results method entry: "spf=pass (…) smtp.mailfrom=…". */
    info: string
    lookups?: { limit: number; count: number; void: number }
  }

  export function spf(opts: SpfOptions): Promise<SpfResult>
}
