import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { freePort } from '../bench/ports.js'
import { eventually } from './eventually.js'

const run = promisify(execFile)

/** Debian's request-tracker5 (RT 5.0.3): where its programs are. */
const RT = {
  setup: '/usr/sbin/rt-setup-database-5',
  server: '/usr/share/request-tracker5/libexec/rt-server',
  lib: '/usr/share/request-tracker5/lib',
}

/** A real Request Tracker on 127.0.0.1 with its own SQLite database. */
export interface RequestTracker {
  url: string
  /** An auth token of root, for `Authorization: token …`. */
  token: string
  /** A REST 2 GET as root. */
  get<T>(path: string): Promise<T>
  close(): Promise<void>
}

/**
 * Starts RT standalone (its own Plack server, rt-server) on a free loopback port, with a fresh
 * SQLite database made by rt-setup-database and a root auth token made through RT's own API.
 * The site configuration is this helper's (RT_SITE_CONFIG), not the system's.
 */
export async function startRequestTracker(): Promise<RequestTracker> {
  const dir = await mkdtemp(join(tmpdir(), 'shg-rt-'))
  const port = await freePort()
  await mkdir(join(dir, 'site.d'))
  await writeFile(
    join(dir, 'RT_SiteConfig.pm'),
    `Set($rtname, 'shg-test');
Set($Organization, 'shg.test');
Set($DatabaseType, 'SQLite');
Set($DatabaseName, '${join(dir, 'rt.db')}');
Set($DatabaseUser, '');
Set($DatabasePassword, '');
Set($WebPath, '');
Set($WebDomain, '127.0.0.1');
Set($WebPort, ${port});
Set($WebBaseURL, 'http://127.0.0.1:${port}');
Set($LogToSTDERR, 'error');
Set($LogToSyslog, undef);
Set($LogToFile, undef);
Set($MailCommand, 'testfile');
1;
`,
  )
  const env = { ...process.env, RT_SITE_CONFIG: join(dir, 'RT_SiteConfig.pm'), RT_SITE_CONFIG_DIR: join(dir, 'site.d') }
  // SQLite: the file is the database, so "create" is skipped and init makes schema and data.
  await run(RT.setup, ['--action', 'init', '--skip-create'], { env, timeout: 120_000 })
  const { stdout } = await run(
    'perl',
    [
      `-I${RT.lib}`,
      '-e',
      'use RT; RT::LoadConfig(); RT::Init(); my $u = RT::User->new(RT->SystemUser); $u->Load("root"); my $t = RT::AuthToken->new(RT->SystemUser); my ($ok, $msg, $auth) = $t->Create(Owner => $u->id, Description => "smarthost-guard test"); die $msg unless $ok; print $auth',
    ],
    { env, timeout: 60_000 },
  )
  const token = stdout.trim()
  const child = spawn(RT.server, ['--port', String(port)], { env, stdio: ['ignore', 'ignore', 'pipe'], detached: true })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const url = `http://127.0.0.1:${port}`
  await eventually(
    () => fetch(`${url}/REST/2.0/`).then((r) => r.status, () => 0),
    (status) => status === 401 || status === 200 || child.exitCode !== null,
    { ms: 60_000, everyMs: 250, what: 'RT to answer on /REST/2.0' },
  )
  if (child.exitCode !== null) throw new Error(`rt-server exited: ${stderr}`)
  return {
    url,
    token,
    async get<T>(path: string) {
      const res = await fetch(`${url}/REST/2.0${path}`, { headers: { authorization: `token ${token}` } })
      if (!res.ok) throw new Error(`RT GET ${path}: ${res.status}`)
      return (await res.json()) as T
    },
    async close() {
      if (child.exitCode === null && child.pid) {
        // rt-server was started in a process group of its own: end it and any worker it forked.
        process.kill(-child.pid, 'SIGTERM')
        await once(child, 'exit')
      }
      await rm(dir, { recursive: true, force: true })
    },
  }
}
