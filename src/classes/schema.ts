import { z } from 'zod'
import { cidr, hostname } from '../config/units.js'

/** A client class name (also the key of per-class maps, where `default` stands for every class not listed). */
export const className = () => z.string().regex(/^[a-z0-9_-]+$/, 'a class name: use lower case letters, digits, - and _')

const networkList = z
  .strictObject({
    class: className().describe('Class of the clients in this list'),
    list: z
      .enum(['allow', 'deny'])
      .default('allow')
      .describe('deny lists are evaluated before allow lists, whatever their order'),
    cidrs: z.array(cidr()).default([]).describe('Addresses and CIDR blocks'),
    file: z.string().optional().describe('File of addresses and CIDR blocks, one per line (# comments), added to cidrs'),
  })
  .refine((n) => n.cidrs.length > 0 || n.file !== undefined, { message: 'give cidrs, a file, or both', path: ['cidrs'] })

/** Per-instance `classes`: how a client gets its policy class. */
export const classesSchema = z
  .strictObject({
    default: className().default('unknown').describe('Class of a client that no list or override names'),
    authenticated: className()
      .default('authenticated-user')
      .describe('Class after a successful AUTH, unless overrides.users names another'),
    networks: z
      .array(networkList)
      .default([])
      .describe('Network lists, checked at connect: deny lists first, then allow lists, each in order; the first match wins'),
    overrides: z
      .strictObject({
        cidrs: z
          .record(cidr(), className())
          .default({})
          .describe('Address or CIDR → class; wins over the network lists and over what checks suggest (longest prefix first)'),
        users: z.record(z.string().min(1), className()).default({}).describe('Authenticated user → class; wins over everything'),
        sender_domains: z
          .record(hostname(), className())
          .default({})
          .describe('Envelope sender domain → class for that transaction (a sender is only claimed: best used to tighten)'),
      })
      .prefault({})
      .describe('Explicit classes that no list or check signal changes'),
  })
  .prefault({})
  .describe('Client classes: limits and checks are set per class')

export type ClassesConfig = z.output<typeof classesSchema>
