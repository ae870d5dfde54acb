import { z } from 'zod'

/** The `added_headers` section of an instance: what the relayed message tells the next hops. */
export const addedHeadersSchema = z
  .strictObject({
    guard: z
      .boolean()
      .default(false)
      .describe(
        'Add "<guard_name>: score=…; flags=…" with the combined score and flags of the session and message, so tags are visible downstream; copies of it the client sent are removed (forgery)',
      ),
    guard_name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9-]*$/, 'a header field name: letters, digits and -')
      .default('X-Smarthost-Guard')
      .describe('Name of the guard header field'),
    authentication_results: z
      .boolean()
      .default(false)
      .describe(
        'Add an Authentication-Results field (RFC 8601, authserv-id: the host name) with the SPF and DMARC results the checks found; Authentication-Results with our authserv-id that the client sent are removed (RFC 8601 section 5)',
      ),
  })
  .prefault({})
  .describe('Header fields the relay adds to each relayed message, above its Received field')

export type AddedHeadersConfig = z.output<typeof addedHeadersSchema>
