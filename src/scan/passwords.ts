// Password-protected archives are a classic way to get malware past scanners, with the
// password in the message text ("the password is 4711"). Like Laika BOSS, the scanner tries the
// words of the message's text parts on encrypted zip members.

/** Most candidates kept per message, and most text read per part. */
const MAX_CANDIDATES = 64
const MAX_TEXT = 64 * 1024

// "password: x", "Passwort lautet x", "mot de passe : x", "pw=x", …
const AFTER_KEYWORD =
  /(?:password|passwort|kennwort|passcode|pass|pwd|pw|code|mot de passe|contrase(?:ñ|n)a|senha|parola|wachtwoord|has(?:ł|l)o|heslo)\s*(?:is|ist|lautet|est|:|=|-)?\s*[:=]?\s*["'«„“]?([^\s"'»“”<>]{3,64})/giu
const WORD = /[^\s"'«»„“”<>()[\]{},;]{3,32}/gu

/**
 * Collects password candidates from message text, most likely first: words that follow a
 * password keyword, then every other word. Keeps at most 64. The text is only read when an
 * encrypted member asks for candidates, so messages without one pay nothing.
 */
export class PasswordCandidates {
  readonly #texts: { text: Buffer | string; html: boolean }[] = []
  #list: string[] | null = null

  /** Remembers a text part (HTML tags are stripped when it is read). */
  addText(text: Buffer | string, html = false): void {
    this.#texts.push({ text, html })
    this.#list = null
  }

  /** Candidates in the order to try them. */
  list(): string[] {
    this.#list ??= candidates(this.#texts)
    return this.#list
  }
}

function candidates(texts: readonly { text: Buffer | string; html: boolean }[]): string[] {
  const likely = new Set<string>()
  const words = new Set<string>()
  for (const { text, html } of texts) {
    const s = (typeof text === 'string' ? text : text.toString('utf8', 0, Math.min(text.length, MAX_TEXT * 2))).slice(0, MAX_TEXT)
    const plain = html ? s.replace(/<[^>]*>/g, ' ').replace(/&nbsp;/g, ' ') : s
    for (const m of plain.matchAll(AFTER_KEYWORD)) {
      // "the password is Sommer2026." or "Passwort: Bl4u!": try it without and with the punctuation.
      const raw = m[1] ?? ''
      const word = trimPunctuation(raw)
      if (word.length >= 3) likely.add(word)
      likely.add(raw)
    }
    for (const m of plain.matchAll(WORD)) {
      if (words.size >= MAX_CANDIDATES * 4) break
      words.add(trimPunctuation(m[0]))
    }
  }
  const out = [...likely]
  for (const w of words) {
    if (out.length >= MAX_CANDIDATES) break
    if (w.length >= 3 && !likely.has(w)) out.push(w)
  }
  return out.slice(0, MAX_CANDIDATES)
}

function trimPunctuation(word: string): string {
  return word.replace(/[.,:;!?)]+$/u, '')
}
