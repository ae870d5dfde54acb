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
 * password keyword, then every other word. Keeps at most 64.
 */
export class PasswordCandidates {
  readonly #likely = new Set<string>()
  readonly #words = new Set<string>()

  /** Reads a text part (HTML tags are stripped first). */
  addText(text: string, html = false): void {
    const plain = (html ? text.replace(/<[^>]*>/g, ' ').replace(/&nbsp;/g, ' ') : text).slice(0, MAX_TEXT)
    for (const m of plain.matchAll(AFTER_KEYWORD)) {
      // "the password is Sommer2026." or "Passwort: Bl4u!": try it without and with the punctuation.
      const raw = m[1] ?? ''
      const word = trimPunctuation(raw)
      if (word.length >= 3) this.#likely.add(word)
      this.#likely.add(raw)
    }
    for (const m of plain.matchAll(WORD)) {
      if (this.#words.size >= MAX_CANDIDATES * 4) break
      this.#words.add(trimPunctuation(m[0]))
    }
  }

  /** Candidates in the order to try them. */
  list(): string[] {
    const out = [...this.#likely]
    for (const w of this.#words) {
      if (out.length >= MAX_CANDIDATES) break
      if (w.length >= 3 && !this.#likely.has(w)) out.push(w)
    }
    return out.slice(0, MAX_CANDIDATES)
  }
}

function trimPunctuation(word: string): string {
  return word.replace(/[.,:;!?)]+$/u, '')
}
