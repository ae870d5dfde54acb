import assert from 'node:assert/strict'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, describe, it } from 'node:test'
import { createLogger } from '../../src/log/logger.js'
import { spawnChild } from '../helpers/children.js'
import { waitFor } from '../helpers/relay.js'

// The process logger writes its lines in batches; no line may be lost or held back for long.

const LOGGER = fileURLToPath(new URL('../../src/log/logger.ts', import.meta.url))

describe('log writes in batches', () => {
  let dir = ''
  const folder = async () => (dir ||= await mkdtemp(join(tmpdir(), 'shg-log-')))
  after(() => (dir ? rm(dir, { recursive: true, force: true }) : undefined))

  it('writes a lone line to the file shortly after it was logged', async () => {
    const file = join(await folder(), 'lone.log')
    const log = createLogger('info', { destination: file })
    log.info({ n: 1 }, 'a lone line')
    await waitFor(() => {
      try {
        return readFileSync(file, 'utf8').includes('a lone line')
      } catch {
        return false
      }
    }, 3000, 'the line in the file')
  })

  it('has every line in the file when the process exits right after logging them', async () => {
    const file = join(await folder(), 'exit.log')
    const script = `
      const { openSync } = await import('node:fs')
      const { createLogger } = await import(${JSON.stringify(LOGGER)})
      // A descriptor, as the relay's stdout is.
      const log = createLogger('info', { destination: openSync(${JSON.stringify(file)}, 'w') })
      for (let i = 0; i < 5000; i++) log.info({ i }, 'line')
      process.exit(0)
    `
    const child = spawnChild(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'inherit'] })
    const [code] = (await once(child, 'exit')) as [number]
    assert.equal(code, 0)
    const lines = (await readFile(file, 'utf8')).split('\n').filter(Boolean)
    assert.equal(lines.length, 5000)
    assert.equal((JSON.parse(lines.at(-1) ?? '{}') as { i: number }).i, 4999)
  })
})
