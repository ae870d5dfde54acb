import { isIP } from 'node:net'
import { z } from 'zod'
import { valueText } from './value-text.js'

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/
const DURATION_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }
const SIZE = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)?$/i
const SIZE_BYTES: Record<string, number> = {
  b: 1,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
}

/** A duration written as "250ms", "30s", "5m", "1h" or "7d"; a bare number means seconds. Parsed to ms. */
export const duration = () =>
  z
    .union([z.number().nonnegative(), z.string()], {
      error: (i) => `expected a duration such as "30s" or "5m", got ${valueText(i.input)}`,
    })
    .transform((value, ctx) => {
      if (typeof value === 'number') return Math.round(value * 1000)
      const m = DURATION.exec(value.trim())
      if (!m) {
        ctx.addIssue({ code: 'custom', message: `expected a duration such as "30s" or "5m", got ${JSON.stringify(value)}` })
        return z.NEVER
      }
      return Math.round(Number(m[1]) * (DURATION_MS[m[2] ?? 's'] ?? 1000))
    })
    .meta({ format: 'duration' })

/** A size written as "25MiB", "512KiB", "25MB" or a number of bytes. Parsed to bytes. */
export const byteSize = () =>
  z
    .union([z.number().int().nonnegative(), z.string()], {
      error: (i) => `expected a size such as "25MiB" or "512KiB", got ${valueText(i.input)}`,
    })
    .transform((value, ctx) => {
      if (typeof value === 'number') return value
      const m = SIZE.exec(value.trim())
      if (!m) {
        ctx.addIssue({ code: 'custom', message: `expected a size such as "25MiB" or "512KiB", got ${JSON.stringify(value)}` })
        return z.NEVER
      }
      return Math.round(Number(m[1]) * (SIZE_BYTES[(m[2] ?? 'b').toLowerCase()] ?? 1))
    })
    .meta({ format: 'size' })

// Largest unit first: a value is printed in the largest unit that holds it a whole number of times.
const DURATION_UNITS = (['d', 'h', 'm', 's', 'ms'] as const).map((u) => [u, DURATION_MS[u] ?? 1] as const)
const SIZE_UNITS = (['GiB', 'GB', 'MiB', 'MB', 'KiB', 'KB', 'B'] as const).map((u) => [u, SIZE_BYTES[u.toLowerCase()] ?? 1] as const)

function inUnits(value: number, units: readonly (readonly [string, number])[]): string {
  const [unit, size] = units.find(([, size]) => value !== 0 && Number.isInteger(value / size)) ?? units[units.length - 1]!
  return `${value / size} ${unit}`
}

/**
 * A duration in ms as an operator writes it, in the largest whole unit; `duration()` reads it back.
 * @example formatDuration(2_592_000_000) // "30 d"
 */
export function formatDuration(ms: number): string {
  return ms === 0 ? '0 s' : inUnits(Math.round(ms), DURATION_UNITS)
}

/**
 * A size in bytes as an operator writes it, in the largest whole unit; `byteSize()` reads it back.
 * @example formatBytes(26_214_400) // "25 MiB"
 */
export function formatBytes(bytes: number): string {
  return inUnits(Math.round(bytes), SIZE_UNITS)
}

/** An IPv4 or IPv6 address. */
export const ipAddress = () =>
  z
    .string()
    .refine((v) => isIP(v) !== 0, { error: (i) => `expected an IP address, got ${JSON.stringify(i.input)}` })
    .meta({ format: 'ip' })

/** An address or a CIDR block ("192.0.2.0/24", "2001:db8::/32", "198.51.100.7"). */
export const cidr = () =>
  z
    .string()
    .refine((v) => parseCidr(v) !== null, {
      error: (i) => `expected an address or CIDR block such as 192.0.2.0/24, got ${JSON.stringify(i.input)}`,
    })
    .meta({ format: 'cidr' })

/** A TCP port; 0 asks the system for a free one. */
export const port = () => z.number().int().min(0).max(65535)

/** A DNS host name (letters, digits, hyphens, dots). */
export const hostname = () =>
  z
    .string()
    .regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i, {
      error: (i) => `expected a host name, got ${JSON.stringify(i.input)}`,
    })
    .meta({ format: 'hostname' })

/** A host (name or address) for outgoing connections. */
export const host = () => z.union([ipAddress(), hostname()])

/** Splits "addr/len" into its parts; a bare address is a host route. Null when malformed. */
export function parseCidr(value: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | null {
  const [address = '', len, extra] = value.trim().split('/')
  if (extra !== undefined) return null
  const version = isIP(address)
  if (version === 0) return null
  const max = version === 4 ? 32 : 128
  const prefix = len === undefined ? max : Number(len)
  if (!/^\d+$/.test(len ?? String(max)) || prefix > max) return null
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' }
}
