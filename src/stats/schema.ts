import { z } from 'zod'
import { duration } from '../config/units.js'

/** The `stats` section: per-client statistics and baselines (see src/stats). */
export const statsSchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe('Keep per-client statistics (smarthost-guard stats, /api/stats); they never refuse mail'),
    max_clients: z
      .number()
      .int()
      .min(100)
      .default(100_000)
      .describe('Client keys (addresses, subnets, users, sender domains) whose counters each instance keeps in memory; the least recently seen go first (about 1.6 KB each)'),
    max_baselines: z
      .number()
      .int()
      .min(100)
      .default(200_000)
      .describe('Client keys whose hourly baselines each instance keeps in memory (a few hundred bytes each; with Redis they live there)'),
    snapshot_dir: z
      .string()
      .min(1)
      .nullable()
      .default(null)
      .describe('Folder, relative to the policy file, where the memory backend writes each instance\u2019s baselines (stats-<instance>.jsonl) to keep them across restarts; null: not kept'),
    snapshot_every: duration().prefault('5m').describe('How often the baselines are written to the snapshot (and at shutdown)'),
  })
  .prefault({})
  .describe('Per-client statistics: counters per address, subnet, user and sender domain over 1m to 24h, and hourly baselines')

export type StatsConfig = z.output<typeof statsSchema>
