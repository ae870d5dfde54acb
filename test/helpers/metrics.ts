/** The value of one sample in Prometheus text format, 0 when absent. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`)
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue
    if (want.every((w) => line.includes(w))) return Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return 0
}

/** Fetches /metrics of a relay's admin listener. */
export async function metricsText(url: string): Promise<string> {
  const res = await fetch(url)
  return res.text()
}
