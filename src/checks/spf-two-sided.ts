import type { SpfResultName } from '../dns/spf.js'

/**
 * What outbound SPF concludes from both sides: the sender domain's result for the client's
 * address (may this customer send for it?) and for our egress addresses (will the destination
 * accept it from us?). `forged` and `relay_not_authorized` need both; the rest is the egress
 * result, which is what the destination will see.
 */
export type TwoSidedResult = 'pass' | 'forged' | 'relay_not_authorized' | Exclude<SpfResultName, 'pass' | 'fail'>

/** Every two-sided result, for metric help and docs. */
export const TWO_SIDED_RESULTS: readonly TwoSidedResult[] = ['pass', 'forged', 'relay_not_authorized', 'softfail', 'neutral', 'none', 'permerror', 'temperror']

/** The flag each refusing or tagging two-sided result sets. */
export const FLAG_FORGED = 'SPF_FORGED_SENDER'
export const FLAG_RELAY_NOT_AUTHORIZED = 'SPF_RELAY_NOT_AUTHORIZED'

/**
 * Combines the client's result with the worst egress result:
 *
 * | egress | client | result |
 * | --- | --- | --- |
 * | pass | any | pass |
 * | fail | pass | relay_not_authorized |
 * | fail | temperror | temperror (we cannot tell a customer from a forger now) |
 * | fail | fail, softfail, neutral, none, permerror | forged |
 * | softfail, neutral, none, permerror, temperror | any | the egress result |
 *
 * @example twoSided('fail', 'pass') // 'relay_not_authorized'
 */
export function twoSided(egress: SpfResultName, client: SpfResultName): TwoSidedResult {
  if (egress === 'pass') return 'pass'
  if (egress !== 'fail') return egress
  // Egress fail: the destination will refuse it from us. Only the client's result says whether
  // the customer may send for the domain (its SPF lacks the relay) or claims a domain it may not.
  if (client === 'pass') return 'relay_not_authorized'
  if (client === 'temperror') return 'temperror'
  return 'forged'
}
