import type { Logger } from 'pino'
import type { SessionRecord } from '../pipeline/record.js'
import { subnetOf } from './dimensions.js'
import type { Limit } from './limit.js'
import type { PenaltyBox } from './penalty-box.js'
import { describeWindow } from './rate-spec.js'
import type { RateSpec } from './rate-spec.js'
import type { PenaltyBoxConfig } from './schema.js'

type Rule = PenaltyBoxConfig['rules'][number]

/**
 * The penalty box rules of an instance: each counts the enforced hits of its limits per client
 * (address, subnet or user) and puts the client in the box when they reach `hits` within `window`.
 */
export class PenaltyRules {
  readonly #rules: { rule: Rule; hits: Limit }[]
  readonly #box: PenaltyBox
  readonly #log: Logger

  /** `limit` makes a limit on the instance's state (InstanceState.limit). */
  constructor(
    rules: readonly Rule[],
    deps: { limit: (check: string, dimension: string, spec: RateSpec) => Limit; box: PenaltyBox; log: Logger },
  ) {
    this.#box = deps.box
    this.#log = deps.log
    this.#rules = rules.map((rule) => ({
      rule,
      hits: deps.limit(`rule.${rule.name}`, rule.scope, { points: rule.hits, windowMs: rule.window }),
    }))
  }

  /** A limit check refused this client; rules that count the check may put it in the box. */
  async hit(check: string, session: Readonly<SessionRecord>): Promise<void> {
    for (const { rule, hits } of this.#rules) {
      if (!rule.limits.includes(check)) continue
      const value = rule.scope === 'address' ? session.client.address : rule.scope === 'subnet' ? subnetOf(session.client.address) : session.user
      if (!value) continue
      try {
        // The hit that reaches `hits` boxes the client (and any later one in the window renews the entry).
        if ((await hits.consume(value)).consumed < rule.hits) continue
        await this.#box.add({
          scope: rule.scope,
          value,
          who: `rule:${rule.name}`,
          why: `limits ${rule.limits.join(', ')} hit ${rule.hits} times within ${describeWindow(rule.window)}`,
          durationMs: rule.duration,
        })
      } catch (err) {
        this.#log.warn({ err, rule: rule.name }, 'penalty box rule could not count a hit')
      }
    }
  }
}
