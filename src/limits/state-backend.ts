import type { Logger } from 'pino'
import { secretOf } from '../config/load.js'
import type { LoadedPolicy } from '../config/load.js'
import { MemoryBackend, RedisBackend } from './backend.js'
import type { StateBackend } from './backend.js'

/** Opens the state backend the policy names (`state:`): memory, or Redis (waiting up to connect_timeout). */
export async function openStateBackend(loaded: LoadedPolicy, log: Logger): Promise<StateBackend> {
  const state = loaded.policy.state
  if (state.backend === 'memory') return new MemoryBackend(state.memory.max_entries)
  const password = secretOf(loaded.files, state.redis?.password_file)
  const backend = await RedisBackend.connect(state, password, log.child({ state: 'redis' }))
  log.info({ backend: 'redis', on_failure: backend.onFailure, ready: backend.client.status === 'ready' }, 'state backend open')
  return backend
}
