import { pino } from 'pino'
import type { Logger, LevelWithSilent } from 'pino'
import { textLine } from './text-line.js'

/** How log lines are written: one JSON object per line, or one Postfix-style text line. */
export type LogFormat = 'json' | 'text'

/** Anything lines can be written to (a pino destination, a test's collector). */
export interface LineSink {
  write(line: string): unknown
  flush?(cb?: (err?: Error | null) => void): void
  flushSync?(): void
}

/**
 * The stream under the process logger. pino writes JSON lines into it, which go out as they
 * are or as text, in the policy's `log.format` (a reload may switch it); event lines come
 * already formatted through `writeLine`, so they are never parsed again.
 */
export class LogOutput {
  format: LogFormat
  readonly #sink: LineSink
  readonly #flushMs: number
  #flushTimer: NodeJS.Timeout | null = null

  /** `flushMs` > 0: the sink holds lines back (batched writes), and they are flushed at most this long after written. */
  constructor(sink: LineSink, format: LogFormat, flushMs = 0) {
    this.#sink = sink
    this.format = format
    this.#flushMs = flushMs
  }

  /** A line from pino (JSON). */
  write(json: string): void {
    this.#sink.write(this.format === 'text' ? textLine(json) : json)
    this.#flushSoon()
  }

  /** A line already in the current format, with its newline. */
  writeLine(line: string): void {
    this.#sink.write(line)
    this.#flushSoon()
  }

  /** One timer per batch, not per line: a quiet relay's last lines still reach the file within flushMs. */
  #flushSoon(): void {
    if (this.#flushMs <= 0 || this.#flushTimer) return
    this.#flushTimer = setTimeout(() => {
      this.#flushTimer = null
      this.#sink.flush?.()
    }, this.#flushMs)
    this.#flushTimer.unref()
  }

  flush(cb?: (err?: Error | null) => void): void {
    if (this.#sink.flush) this.#sink.flush(cb)
    else cb?.()
  }

  flushSync(): void {
    this.#sink.flushSync?.()
  }
}

/**
 * Lines are written in batches of about this many bytes (one write(2) for some 4 transaction
 * lines instead of one each), and at most FLUSH_MS after they were logged. pino flushes what
 * is left synchronously when the process exits.
 */
const BATCH_BYTES = 8192
const FLUSH_MS = 100

/**
 * The process logger (pino) on stdout, or on `destination`: a file descriptor, a path or a
 * sink. Sessions and transactions log through children that carry their ids.
 */
export function createLogger(
  level: LevelWithSilent = 'info',
  opts: { format?: LogFormat; destination?: number | string | LineSink } = {},
): Logger {
  const dest = opts.destination ?? 1
  const sink = typeof dest === 'object' ? dest : pino.destination({ dest, sync: false, minLength: BATCH_BYTES })
  return pino(
    {
      level,
      base: { service: 'smarthost-guard' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    new LogOutput(sink, opts.format ?? 'json', typeof dest === 'object' ? 0 : FLUSH_MS),
  )
}

/** The LogOutput under a logger made by createLogger (and its children), else null. */
export function logOutput(log: Logger): LogOutput | null {
  const stream: unknown = (log as unknown as Record<symbol, unknown>)[pino.symbols.streamSym]
  return stream instanceof LogOutput ? stream : null
}

/** Switches a logger made by createLogger to `format` (a reload); other loggers stay as they are. */
export function setLogFormat(log: Logger, format: LogFormat): void {
  const out = logOutput(log)
  if (out) out.format = format
}

export type { Logger }
