import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describeValue } from '../describe-value.js'
import { listen } from './listen.js'

/** A server behind a {@link PgBouncer}. */
export interface PgBouncerServer {
  /** @default '127.0.0.1' */
  readonly host?: string | undefined
  /** The server's port. */
  readonly port: number
}

/** Options of {@link startPgBouncer}. */
export interface StartPgBouncerOptions {
  /**
   * The servers behind it. One: a bouncer in front of that server. Several: one bouncer spreading its server
   * connections over all of them, round-robin (PgBouncer's host list), as in front of a group of standbys.
   * PgBouncer's host list takes one port for every host, so servers on different ports of one address are
   * reached through loopback forwarders, one per server, on 127.0.0.2, 127.0.0.3, … and a common port.
   * @example [{ port: cluster.replica('replica-1').port }, { port: cluster.replica('replica-2').port }]
   */
  readonly servers: readonly PgBouncerServer[]
  /**
   * PgBouncer's `pool_mode`.
   * @default 'transaction'
   */
  readonly poolMode?: 'session' | 'transaction' | 'statement' | undefined
  /**
   * PgBouncer's `default_pool_size`: server connections per database and user.
   * @default 20
   */
  readonly poolSize?: number | undefined
  /**
   * Port to listen on, on 127.0.0.1.
   * @default 0 (a free port)
   */
  readonly port?: number | undefined
  /**
   * PgBouncer's binary.
   * @default `$PGBOUNCER`, else /usr/sbin/pgbouncer, else /usr/bin/pgbouncer
   */
  readonly binary?: string | undefined
  /**
   * Start a watchdog process that stops PgBouncer if this process dies.
   * @default true
   */
  readonly watchdog?: boolean | undefined
}

/** PgBouncer exited as it started (its log and error output in the message). */
class PgBouncerStartError extends Error {
  override readonly name = 'PgBouncerStartError'
}

/** PgBouncer's binary was not found; the message says where it looked and how to install it. */
export class PgBouncerNotFoundError extends Error {
  /** `PgBouncerNotFoundError`. */
  override readonly name = 'PgBouncerNotFoundError'
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** The PgBouncer binary: `explicit`, else `$PGBOUNCER`, else the Debian locations. Throws {@link PgBouncerNotFoundError}. */
export function findPgBouncer(explicit?: string): string {
  const chosen = explicit ?? process.env.PGBOUNCER
  const candidates = chosen ? [chosen] : ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer']
  for (const file of candidates) if (existsSync(file)) return file
  throw new PgBouncerNotFoundError(
    `PgBouncer not found in: ${candidates.join(', ')}. Install it (Debian/Ubuntu: \`apt-get install -y --no-install-recommends pgbouncer\`) or set PGBOUNCER.`,
  )
}

/** A TCP forwarder on `host`:`port` to `target`: byte for byte, both ways. */
function forwarder(target: { host: string; port: number }, sockets: Set<Socket>): Server {
  const server = createServer((client) => {
    const upstream = connect(target.port, target.host)
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('close', () => sockets.delete(s))
      s.on('error', () => {
        client.destroy()
        upstream.destroy()
      })
    }
    client.pipe(upstream)
    upstream.pipe(client)
  })
  server.unref()
  return server
}

/** Forwarders on 127.0.0.2, 127.0.0.3, … sharing one free port, one per server. */
async function startForwarders(servers: readonly { host: string; port: number }[], sockets: Set<Socket>): Promise<{ servers: Server[]; port: number }> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const started: Server[] = []
    try {
      const first = forwarder(servers[0] as { host: string; port: number }, sockets)
      started.push(first)
      const port = await listen(first, 0, '127.0.0.2')
      for (let i = 1; i < servers.length; i++) {
        const f = forwarder(servers[i] as { host: string; port: number }, sockets)
        started.push(f)
        await listen(f, port, `127.0.0.${String(i + 2)}`)
      }
      return { servers: started, port }
    } catch (error) {
      await Promise.all(started.map((s) => new Promise((resolve) => s.close(resolve))))
      if ((error as { code?: string }).code !== 'EADDRINUSE') throw error
    }
  }
  throw new Error('could not find a port free on every forwarder address')
}

async function freePort(): Promise<number> {
  const server = createServer()
  server.unref()
  const port = await listen(server, 0, '127.0.0.1')
  await new Promise((resolve) => server.close(resolve))
  return port
}

async function postgresIds(): Promise<{ uid: number; gid: number }> {
  const run = (flag: string) =>
    new Promise<number>((resolve, reject) => {
      const child = spawn('id', [flag, 'postgres'], { stdio: ['ignore', 'pipe', 'ignore'] })
      let out = ''
      child.stdout.on('data', (d: Buffer) => (out += d.toString()))
      child.on('error', reject)
      child.on('exit', (code) => {
        if (code === 0) resolve(Number(out.trim()))
        else reject(new Error('no `postgres` OS user to run PgBouncer as (it refuses to run as root)'))
      })
    })
  return { uid: await run('-u'), gid: await run('-g') }
}

/**
 * A PgBouncer (the real one, Debian's `pgbouncer`) on 127.0.0.1, in front of one server or spread over several,
 * started by {@link startPgBouncer}. Every database name is passed through to the servers (`* =` entry), logged
 * in as `postgres` (`auth_type = any`: the test cluster trusts loopback). As root, it runs as the `postgres` OS
 * user (PgBouncer refuses root).
 */
export class PgBouncer {
  private child: ChildProcess | undefined
  private exited: Promise<void> = Promise.resolve()

  private constructor(
    private readonly binary: string,
    private readonly dir: string,
    private readonly asPostgres: boolean,
    /** The port it listens on, on 127.0.0.1. */
    readonly port: number,
    private readonly forwarders: readonly Server[],
    private readonly sockets: Set<Socket>,
    private readonly watchdogPid: number | undefined,
  ) {}

  /** @internal */
  static async start(options: StartPgBouncerOptions, attempt = 1): Promise<PgBouncer> {
    validate(options)
    const binary = findPgBouncer(options.binary)
    const servers = options.servers.map((s) => ({ host: s.host ?? '127.0.0.1', port: s.port }))
    const sockets = new Set<Socket>()
    const ports = new Set(servers.map((s) => s.port))
    const forwarded = servers.length > 1 && ports.size !== 1 ? await startForwarders(servers, sockets) : undefined
    const hosts = forwarded ? servers.map((_, i) => `127.0.0.${String(i + 2)}`) : servers.map((s) => s.host)
    const serverPort = forwarded ? forwarded.port : (servers[0] as { port: number }).port
    const asPostgres = process.getuid?.() === 0
    const parent = existsSync('/dev/shm') ? '/dev/shm' : tmpdir()
    const dir = await mkdtemp(join(parent, 'prr-pgbouncer-'))
    const port = options.port ?? (await freePort())
    const config = [
      '[databases]',
      `* = host=${hosts.join(',')} port=${String(serverPort)} user=postgres`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${String(port)}`,
      'unix_socket_dir =',
      'auth_type = any',
      `pool_mode = ${options.poolMode ?? 'transaction'}`,
      `default_pool_size = ${String(options.poolSize ?? 20)}`,
      'max_client_conn = 1000',
      // A server that was down is tried again after 1 s, not PgBouncer's default 15 s.
      'server_login_retry = 1',
      'server_connect_timeout = 5',
      'ignore_startup_parameters = extra_float_digits',
      `logfile = ${join(dir, 'pgbouncer.log')}`,
      `pidfile = ${join(dir, 'pgbouncer.pid')}`,
      '',
    ].join('\n')
    await writeFile(join(dir, 'pgbouncer.ini'), config)
    if (asPostgres) {
      const { uid, gid } = await postgresIds()
      await chown(dir, uid, gid)
      await chown(join(dir, 'pgbouncer.ini'), uid, gid)
    }
    const watchdogPid = options.watchdog === false ? undefined : startWatchdog(dir)
    const bouncer = new PgBouncer(binary, dir, asPostgres, port, forwarded?.servers ?? [], sockets, watchdogPid)
    try {
      await bouncer.launch()
    } catch (error) {
      await bouncer.stop()
      // A free port taken by another process before PgBouncer bound it: again, on another one.
      if (error instanceof PgBouncerStartError && options.port === undefined && attempt < 3) return await PgBouncer.start(options, attempt + 1)
      throw error
    }
    return bouncer
  }

  /** `postgresql://postgres@127.0.0.1:<port>/<database>`. */
  url(database = 'app'): string {
    return `postgresql://postgres@127.0.0.1:${String(this.port)}/${database}`
  }

  /** Whether PgBouncer is running. */
  get running(): boolean {
    return this.child !== undefined
  }

  /** PgBouncer's log so far. */
  async log(): Promise<string> {
    return await readFile(join(this.dir, 'pgbouncer.log'), 'utf8').catch(() => '')
  }

  /**
   * Stops PgBouncer at once (SIGTERM: every client and server connection closed) and starts it again on the same
   * port; resolves when it accepts connections.
   */
  async restart(): Promise<void> {
    await this.halt()
    await this.launch()
  }

  /** Stops PgBouncer at once, its forwarders too, and removes its folder. */
  async stop(): Promise<void> {
    await this.halt()
    for (const s of this.sockets) s.destroy()
    await Promise.all(this.forwarders.map((s) => new Promise((resolve) => s.close(resolve))))
    if (this.watchdogPid !== undefined) {
      try {
        process.kill(this.watchdogPid, 'SIGTERM')
      } catch {
        // already gone
      }
    }
    await rm(this.dir, { recursive: true, force: true })
  }

  private async launch(): Promise<void> {
    const config = join(this.dir, 'pgbouncer.ini')
    const [file, args] = this.asPostgres ? ['runuser', ['-u', 'postgres', '--', this.binary, config]] : [this.binary, [config]]
    const child = spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe'] })
    child.unref()
    this.child = child
    const state = { exited: false, stderr: '' }
    child.stderr.on('data', (chunk: Buffer) => {
      state.stderr = (state.stderr + chunk.toString()).slice(-2000)
    })
    ;(child.stderr as NodeJS.ReadableStream & { unref?: () => void }).unref?.()
    this.exited = new Promise((resolve) => {
      child.once('exit', () => {
        state.exited = true
        if (this.child === child) this.child = undefined
        resolve()
      })
      child.once('error', () => {
        state.exited = true
        if (this.child === child) this.child = undefined
        resolve()
      })
    })
    // Ready when its port accepts a connection (condition, not a fixed wait).
    const deadline = performance.now() + 15_000
    for (;;) {
      if (state.exited) throw new PgBouncerStartError(`PgBouncer exited at start: ${(await this.log()).slice(-600)} ${state.stderr.slice(-600)}`.trim())
      if (await accepts(this.port)) return
      if (performance.now() > deadline) throw new Error(`PgBouncer did not listen on ${String(this.port)} within 15 s: ${(await this.log()).slice(-600)}`)
      await sleep(10)
    }
  }

  private async halt(): Promise<void> {
    if (!this.child) return
    const pid = Number((await readFile(join(this.dir, 'pgbouncer.pid'), 'utf8').catch(() => '')).trim())
    try {
      if (pid > 0) process.kill(pid, 'SIGTERM')
      else this.child.kill('SIGTERM')
    } catch {
      // already gone
    }
    await this.exited
    this.child = undefined
    await rm(join(this.dir, 'pgbouncer.pid'), { force: true })
  }
}

async function accepts(port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => {
      resolve(false)
    })
  })
}

function startWatchdog(dir: string): number | undefined {
  // Polls the owner's PID once a second; when the owner is gone, stops PgBouncer and removes its folder.
  const script = `
trap 'exit 0' TERM
while kill -0 ${String(process.pid)} 2>/dev/null; do sleep 1; done
[ -f '${dir}/pgbouncer.pid' ] && kill "$(cat '${dir}/pgbouncer.pid')" 2>/dev/null
rm -rf '${dir}'
`
  const child = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' })
  child.unref()
  return child.pid
}

function validate(options: StartPgBouncerOptions): void {
  const { servers, poolMode, poolSize, port } = options as Partial<StartPgBouncerOptions>
  if (!Array.isArray(servers) || servers.length === 0) throw new TypeError(`Expected \`servers\` to be a non-empty array, got ${describeValue(servers)}`)
  servers.forEach((s: unknown, i) => {
    const p = (s as { port?: unknown } | null)?.port
    if (typeof p !== 'number' || !Number.isInteger(p) || p <= 0 || p > 65535)
      throw new TypeError(`Expected \`servers[${String(i)}].port\` to be a port number, got ${describeValue(p)}`)
  })
  if (poolMode !== undefined && !['session', 'transaction', 'statement'].includes(poolMode)) {
    throw new TypeError(`Expected \`poolMode\` to be 'session', 'transaction' or 'statement', got ${describeValue(poolMode)}`)
  }
  if (poolSize !== undefined && (!Number.isInteger(poolSize) || poolSize < 1)) throw new TypeError(`Expected \`poolSize\` to be an integer >= 1, got ${describeValue(poolSize)}`)
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) throw new TypeError(`Expected \`port\` to be a port number, got ${describeValue(port)}`)
}

/** Starts a real PgBouncer on 127.0.0.1 in front of `servers` (see {@link StartPgBouncerOptions}). */
export async function startPgBouncer(options: StartPgBouncerOptions): Promise<PgBouncer> {
  return await PgBouncer.start(options)
}
