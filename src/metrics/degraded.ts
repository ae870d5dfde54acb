const sources = new Map<object, () => readonly string[]>()

/**
 * Makes `what` a source of the `degraded` list /readyz shows: the parts the relay runs
 * without now (a Redis behind an open circuit breaker, a DNS list switched off). `null`
 * removes the owner's source. The relay stays ready meanwhile: it still answers every client.
 */
export function reportDegraded(owner: object, what: (() => readonly string[]) | null): void {
  if (what) sources.set(owner, what)
  else sources.delete(owner)
}

/** What the relay runs without now, one line each (empty when whole). */
export function degradedParts(): string[] {
  return [...sources.values()].flatMap((what) => what())
}
