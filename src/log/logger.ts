import { pino } from 'pino'
import type { Logger, LevelWithSilent } from 'pino'

/**
 * The process logger: one JSON object per line on stdout (pino). Sessions and transactions
 * log through children that carry their ids.
 */
export function createLogger(level: LevelWithSilent = 'info', destination: number | string = 1): Logger {
  return pino(
    {
      level,
      base: { service: 'smarthost-guard' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination({ dest: destination, sync: false, minLength: 0 }),
  )
}

export type { Logger }
