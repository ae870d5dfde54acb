import { bareLineEnding } from '../errors/replies.js'
import { defineCoreCheck } from '../pipeline/types.js'

/** Flags of this check. */
export const BARE_LF = 'BARE_LF'
export const BARE_CR = 'BARE_CR'

/**
 * data.line_endings (core): bare CR or LF in DATA can end a message early at a lenient next
 * hop (SMTP smuggling). With smtp.bare_line_endings: reject the message is refused with
 * 550 5.6.11; with normalize it is tagged (score 0) and relayed with CRLF line endings.
 */
export const lineEndings = defineCoreCheck({
  id: 'data.line_endings',
  stage: 'data',
  description: 'Bare CR/LF in DATA: 550 5.6.11 (reject) or tag and relay normalized to CRLF (normalize).',
  core: ({ config }) => config.smtp.bare_line_endings,
  create: (mode) =>
    function bareLineEndings({ message }) {
      if (!message || (message.bareCr === 0 && message.bareLf === 0)) return { kind: 'continue' }
      const flags = [...(message.bareLf ? [BARE_LF] : []), ...(message.bareCr ? [BARE_CR] : [])]
      const detail = `${message.bareLf} bare LF, ${message.bareCr} bare CR`
      if (mode === 'reject') return { kind: 'reject', reply: bareLineEnding(), flags, detail }
      return { kind: 'tag', score: 0, flags, detail: `${detail}, normalized to CRLF` }
    },
})
