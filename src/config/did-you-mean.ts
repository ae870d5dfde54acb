/**
 * Edit distance between two words: insertions, deletions, substitutions and swaps of two neighbouring
 * letters each count one (optimal string alignment), so "prot" is one edit from "port".
 */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  )
  const at = (i: number, j: number) => d[i]?.[j] ?? 0
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1)
      d[i]![j] = best
    }
  }
  return at(a.length, b.length)
}

/**
 * The allowed word closest to a mistyped one, when it is close enough to be a typo: at most a third
 * of the longer word differs (so "prot" finds "port", but "colour" finds nothing among unrelated keys).
 * Ties go to the first candidate, so the answer does not depend on anything but the candidates' order.
 * @example didYouMean('idle_timout', ['idle_timeout', 'drain_timeout']) // "idle_timeout"
 */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  let best: { candidate: string; distance: number } | undefined
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase())
    if (distance > Math.max(1, Math.floor(Math.max(word.length, candidate.length) / 3))) continue
    if (!best || distance < best.distance) best = { candidate, distance }
  }
  return best?.candidate
}

/**
 * The end of a problem report about a mistyped word: ` — did you mean "x"?`, or "" when no
 * allowed word is close (or the value is not text).
 */
export function didYouMeanText(word: unknown, candidates: readonly string[]): string {
  const near = typeof word === 'string' ? didYouMean(word, candidates) : undefined
  return near === undefined ? '' : ` \u2014 did you mean ${JSON.stringify(near)}?`
}
