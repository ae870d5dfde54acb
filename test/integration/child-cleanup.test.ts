import assert from 'node:assert/strict'
import { once } from 'node:events'
import net from 'node:net'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { spawnChild } from '../helpers/children.js'
import { waitFor } from '../helpers/relay.js'

// A redis-server (or any process) a test helper started must not outlive the test process,
// whether it exits, throws, is interrupted or is killed outright.

const OWNER = fileURLToPath(new URL('../fixtures/processes/redis-owner.ts', import.meta.url))

/** Starts the owner script, returns it and the port of the redis-server it started. */
async function owner(how: 'exit' | 'throw' | 'wait') {
  const child = spawnChild(process.execPath, ['--import', 'tsx', OWNER, how], { stdio: ['ignore', 'pipe', 'ignore'] })
  let out = ''
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (d: string) => (out += d))
  const exited = once(child, 'exit')
  await waitFor(() => out.includes('\n') || child.exitCode !== null, 20_000, 'the redis port')
  const port = Number(out.trim())
  assert.ok(port > 0, `no port from the owner (${out})`)
  return { child, port, exited }
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port })
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
  })
}

async function gone(port: number): Promise<void> {
  const deadline = Date.now() + 5000
  while (await answers(port)) {
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} outlived its test process`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe('processes started by test helpers end with the test process', () => {
  for (const how of ['exit', 'throw'] as const) {
    it(`stops the throwaway redis-server when the test process ends by ${how === 'exit' ? 'exiting' : 'an uncaught error'}`, async () => {
      const { port, exited } = await owner(how)
      await exited
      await gone(port)
    })
  }

  for (const signal of ['SIGTERM', 'SIGINT', 'SIGKILL'] as const) {
    it(`stops the throwaway redis-server when the test process gets ${signal}`, async () => {
      const { child, port, exited } = await owner('wait')
      assert.equal(await answers(port), true)
      child.kill(signal)
      const [, got] = (await exited) as [number | null, NodeJS.Signals | null]
      assert.equal(got, signal)
      await gone(port)
    })
  }
})
