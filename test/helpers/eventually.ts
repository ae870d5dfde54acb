/**
 * Retries `attempt` every `everyMs` until it resolves with a value `done` accepts, up to `ms`:
 * for state that changes with time (a rate window ending), observed by asking again rather
 * than by sleeping a guessed time. Resolves with the accepted value and how long it took.
 */
export async function eventually<T>(
  attempt: () => Promise<T>,
  done: (value: T) => boolean,
  opts: { ms?: number; everyMs?: number; what?: string } = {},
): Promise<{ value: T; ms: number }> {
  const started = Date.now()
  const deadline = started + (opts.ms ?? 10_000)
  let last: T | undefined
  for (;;) {
    last = await attempt()
    if (done(last)) return { value: last, ms: Date.now() - started }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${opts.what ?? 'a condition'}; last: ${JSON.stringify(last)}`)
    await new Promise((r) => setTimeout(r, opts.everyMs ?? 100))
  }
}
