import { messageTooBig } from '../errors/replies.js'
import { defineCoreCheck } from '../pipeline/types.js'

/**
 * data.size (core): refuses a message larger than limits.message_size. The SIZE= declared at
 * MAIL FROM is refused earlier by the SMTP layer with the same code. Verdicts: reject
 * 552 5.3.4, or continue.
 */
export const messageSize = defineCoreCheck({
  id: 'data.size',
  stage: 'data',
  description: 'Refuses messages over limits.message_size with 552 5.3.4.',
  core: ({ config }) => config.limits.message_size,
  create: (limit) =>
    function messageSizeLimit({ message }) {
      if (!message?.overLimit) return { kind: 'continue' }
      return { kind: 'reject', reply: messageTooBig(limit), flags: ['SIZE_EXCEEDED'], detail: `${message.size} bytes` }
    },
})
