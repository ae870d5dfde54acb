import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseDocument } from 'yaml'
import { hashPassword } from '../auth/password.js'
import { CRACKED, HOME_USERS } from './isp.js'

/** The shipped demo policy: production.yaml's outbound instance for the demo ISP on loopback. */
export const DEMO_POLICY = fileURLToPath(new URL('../../policies/demo/relay.yaml', import.meta.url))

/** Where the demo's services listen. */
export interface DemoPlaces {
  smtp: number
  submission: number
  admin: number
  sink: number
  /** "127.0.0.1:PORT" of the demo's DNS server. */
  dns: string
  webhookUrl: string
  webhookSecret: string
}

/**
 * Writes the demo policy into `dir` with only its places changed: the ports, the next hop,
 * the DNS server, the webhook and the files under var/demo (credentials of the demo's users,
 * the webhook secret, the admin token, alerts and quarantine). Every check, limit and rule is
 * the shipped file's. Returns the file written.
 */
export async function placeDemoPolicy(dir: string, places: DemoPlaces): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const users = [...HOME_USERS.map((u) => [u.user, u.password] as const), [CRACKED.user, CRACKED.password] as const]
  const lines = await Promise.all(users.map(async ([user, password]) => `${user}:${await hashPassword(password)}`))
  await writeFile(join(dir, 'users.passwd'), `${lines.join('\n')}\n`, { mode: 0o600 })
  await writeFile(join(dir, 'webhook.secret'), `${places.webhookSecret}\n`, { mode: 0o600 })

  const doc = parseDocument(await readFile(DEMO_POLICY, 'utf8'))
  const set = (path: (string | number)[], value: unknown) => {
    // A key renamed in the shipped file must fail here, not leave the demo on a default.
    if (!doc.hasIn(path)) throw new Error(`${DEMO_POLICY}: ${path.join('.')} is missing`)
    doc.setIn(path, value)
  }
  const outbound = ['instances', 'outbound']
  const listeners = doc.getIn([...outbound, 'listeners']) as { items: { get(k: string): unknown }[] }
  const listenerIndex = (name: string) => listeners.items.findIndex((l) => l.get('name') === name)
  set(['admin', 'port'], places.admin)
  set(['admin', 'token_file'], join(dir, 'admin.token'))
  set(['dns', 'servers'], [places.dns])
  set(['alerts', 'dir'], join(dir, 'alerts'))
  set(['alerts', 'webhooks', 0, 'url'], places.webhookUrl)
  set(['alerts', 'webhooks', 0, 'secret_file'], join(dir, 'webhook.secret'))
  set([...outbound, 'admin', 'port'], places.admin)
  set([...outbound, 'listeners', listenerIndex('smtp'), 'port'], places.smtp)
  set([...outbound, 'listeners', listenerIndex('submission'), 'port'], places.submission)
  set([...outbound, 'next_hops', 0, 'port'], places.sink)
  set([...outbound, 'relay', 'credentials'], join(dir, 'users.passwd'))
  set([...outbound, 'quarantine', 'dir'], join(dir, 'quarantine'))
  set([...outbound, 'scan', 'rules'], resolve(dirname(DEMO_POLICY), String(doc.getIn([...outbound, 'scan', 'rules']))))
  const file = join(dir, 'relay.yaml')
  await writeFile(file, doc.toString(), { mode: 0o600 })
  return file
}
